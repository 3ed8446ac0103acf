"""T023 TorchRandom: ``torch.randn/rand(_like)`` -> ``jax.random`` with the module's ``'noise'`` stream;
other draws (``randint``, ``bernoulli``, ``multinomial``, ``x.uniform_()``...) are reported."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    emit,
    forward_returning,
    op_name,
    shapes,
    unsupported,
)

FUNCTIONS = ("randn", "rand", "randint", "randn_like", "rand_like", "randint_like", "randperm", "normal", "bernoulli",
             "multinomial", "poisson")
#: the draws translated, and the jax.random sampler with the same distribution
SAMPLERS = {"randn": "normal", "randn_like": "normal", "rand": "uniform", "rand_like": "uniform"}
#: the RNG stream the translated module draws from: the caller passes ``rngs={"noise": key}``
STREAM = "noise"


def _sample(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
            pin_memory=False, memory_format=None, low=None, high=None, mean=None, std=None): ...


@register
class TorchRandom(Rule):
    code = "T023"
    name = "TorchRandom"
    summary = "torch.randn/rand(_like) -> jax.random.normal/uniform(self.make_rng('noise'), ...); other draws reported"
    torch_functions = tuple(f"torch.{n}" for n in FUNCTIONS)
    tensor_methods = ("bernoulli", "bernoulli_", "multinomial", "uniform_", "normal_", "random_", "exponential_")
    call_signature = signature_of(_sample)
    doc = RuleDoc(
        what=(
            "Random sampling inside a module's methods: `torch.randn(...)`, `torch.rand(...)`,\n"
            "`torch.randn_like(x)`, `torch.rand_like(x)` (the VAE reparameterisation `mu + eps * std`).\n"
            "Other draws (`randint`, `randperm`, `bernoulli`, `multinomial`, `x.uniform_()`...) and draws\n"
            "in module-level functions are reported."
        ),
        why=(
            "JAX has no global random state: every draw takes an explicit key. A Flax module gets one\n"
            "from a named stream, `self.make_rng('noise')`, and the caller provides the stream:\n"
            "`model.apply(variables, x, rngs={'noise': key})`. Each call to `make_rng` folds in a\n"
            "counter, so two draws in one call differ, and the same key reproduces the same draws.\n"
            "The numbers differ from PyTorch's generator; only the distribution is the same, so\n"
            "`check` compares such models with the draws set to zero on both sides (see README)."
        ),
        example=Example(
            torch="eps = torch.randn_like(std)\nz = mu + eps * std",
            flax="eps = jax.random.normal(self.make_rng('noise'), std.shape, std.dtype)\nz = mu + eps * std",
        ),
        fidelity="Same distribution (standard normal, uniform on [0, 1)); the values differ from PyTorch's.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        body = getattr(ctx, "body", None)
        script_key = getattr(body, "random_key", None) if body is not None and body.cls is None else None
        if op == "randperm" and script_key is not None and not ctx.is_default("args"):  # a script's shuffling
            n = code_of(ctx.expr("args").elements[0].value)
            ctx.note("torch.randperm(n) -> jax.random.permutation(key, n): the script's key, folded per draw")
            return emit(f"jax.random.permutation({script_key()}, {n})")
        if op == "randint" and script_key is not None and not ctx.is_default("args"):  # a script's data
            args = [code_of(a.value) for a in ctx.expr("args").elements]
            if not ctx.is_default("size"):
                args.append(code_of(ctx.plain("size")))
            if len(args) in (2, 3):
                low, high, size = (["0", *args] if len(args) == 2 else args)
                ctx.note("torch.randint(low, high, size) -> jax.random.randint(key, size, low, high): the script's key")
                return emit(f"jax.random.randint({script_key()}, {size}, {low}, {high})")
        if op not in SAMPLERS or body is None or (body.cls is None and script_key is None):
            return unsupported(
                ctx, f"`{op}` draws from PyTorch's global RNG: JAX needs an explicit key, e.g. "
                "`jax.random.normal(self.make_rng('noise'), shape)` with `rngs={'noise': key}` in apply",
            )
        for name in ("generator", "out", "low", "high", "mean", "std"):
            if not ctx.is_default(name):
                return unsupported(ctx, f"`{op}(..., {name}=...)` is not translated")
        args = [code_of(a.value) for a in ctx.expr("args").elements] if not ctx.is_default("args") else []
        if not ctx.is_default("size"):
            args.append(code_of(ctx.plain("size")))
        if op.endswith("_like"):
            if len(args) != 1:
                return unsupported(ctx, f"`torch.{op}` takes one tensor")
            shape = f"{args[0]}.shape"
            dtype = code_of(ctx.expr("dtype")) if not ctx.is_default("dtype") else f"{args[0]}.dtype"
        else:
            if not args:
                return unsupported(ctx, f"`torch.{op}` needs a size")
            if len(args) == 1:
                shape = f"({args[0]},)" if is_one_dimension(ctx.expr("args").elements[0].value if not ctx.is_default("args") else None) else args[0]
            else:
                shape = f"({', '.join(args)})"
            dtype = code_of(ctx.expr("dtype")) if not ctx.is_default("dtype") else "jnp.float32"
        if script_key is not None:  # a training script's data: the script's key, one fold per draw
            ctx.note("random draws take an explicit key: the script's `key`, folded with a counter per draw")
            return emit(f"jax.random.{SAMPLERS[op]}({script_key()}, {shape}, {dtype})")
        ctx.note(f"random draws take an explicit key: the '{STREAM}' stream, `apply(..., rngs={{'{STREAM}': key}})`")
        return emit(f"jax.random.{SAMPLERS[op]}(self.make_rng({STREAM!r}), {shape}, {dtype})")

    def cases(self):
        # The draws cannot match PyTorch's; each case uses one only through quantities that do not
        # depend on its values (shape, dtype, a zero weight), so the test checks the emitted code runs
        # with the stream threaded, and that everything around the draw is exact.
        @st.composite
        def random_case(draw):
            form = draw(st.sampled_from([
                "x + 0.0 * torch.randn_like(x)", "x * (torch.rand_like(x) >= 0.0)",
                "x + 0.0 * torch.randn(x.shape)", "x + torch.rand(x.shape[-1:]) * 0.0",
                "x + 0.0 * torch.randn(x.shape, device=x.device)", "x + 0 * torch.randn_like(x, dtype=torch.float32)",
            ]))
            return RuleCase("nn.Identity()", f"self.layer({form})", shapes(draw))

        return random_case()

    no_op_examples = ()
    #: the draws that are reported: each claimed function and method once
    flagged_examples = tuple(forward_returning(draw) for draw in (
        "torch.randint(0, 4, x.shape)", "torch.randint_like(x, 4)", "x[torch.randperm(x.shape[0])]",
        "torch.normal(x, 1.0)", "torch.bernoulli(x.sigmoid())", "torch.multinomial(x.softmax(-1), 1)",
        "torch.poisson(x.abs())", "x.sigmoid().bernoulli()", "x.sigmoid().bernoulli_()", "x.softmax(-1).multinomial(1)",
        "x.uniform_()", "x.normal_()", "x.random_(0, 4)", "x.exponential_()",
        "x + torch.randn(*x.shape)",  # a size given as star-arguments cannot be read
    ))


def is_one_dimension(node) -> bool:
    """``torch.rand(n)``: a single size argument that is a number (literal, arithmetic, a plain name) rather
    than a shape (``x.shape``, ``x.size()``, a tuple or list)."""
    import libcst as cst

    if node is None:
        return False
    if isinstance(node, (cst.Integer, cst.BinaryOperation)):
        return True
    return isinstance(node, cst.Name) and not node.value.lower().endswith(("shape", "size", "dims"))
