"""T023 TorchRandom: random draws in a module's methods -> ``jax.random`` with the module's ``'noise'`` stream.

Translated: ``torch.randn/rand(_like)``, ``torch.randint(_like)``, ``torch.bernoulli(p)``, ``torch.normal(mean, std)``
with tensors, and the in-place samplers of a tensor used for its shape (``x.new_empty(s).bernoulli_(keep)``,
timm's drop path; ``torch.zeros(s).uniform_(0, 1)``; ``x.normal_(0, std)``).  Reported: ``multinomial``,
``randperm``, ``poisson``, ``random_``, ``exponential_`` (no replayable standard draw), and draws outside a module."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
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
            pin_memory=False, memory_format=None, low=None, high=None, mean=None, std=None, p=None, a=None, b=None): ...


#: the in-place samplers of a tensor: its values are replaced, only its shape and dtype are read
IN_PLACE_SAMPLERS = ("uniform_", "normal_", "bernoulli_")


#: draws whose values reach the output: in train mode `check` replays PyTorch's draws into the translation's
REPLAYED_FORMS = (
    "x * x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(0.7) / 0.7",
    "x * (torch.zeros(x.shape, device=x.device).uniform_(0, 1) < 0.6).float()",
    "x + torch.empty_like(x).uniform_(-2.0, 3.0)", "x + torch.zeros_like(x).normal_(0.5, 2.0)",
    "x * torch.bernoulli(torch.sigmoid(x))", "x * torch.sigmoid(x).bernoulli()",
    "x + torch.normal(x, torch.ones_like(x))",
    "x + torch.randint(0, 5, x.shape).float()", "x + torch.randint_like(x, 2, 7)",
    "x + 0.5 * torch.randn_like(x)", "x * torch.rand(x.shape)"
)


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
        if body is not None and body.cls is not None and op in (*IN_PLACE_SAMPLERS, "bernoulli", "normal", "randint", "randint_like"):
            return self.distribution(ctx, op)
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

    def distribution(self, ctx, op: str) -> Emitted:
        """The draws built on a standard normal or uniform draw, as ``jax.random`` builds them (so ``check``
        replays PyTorch's draw into them): ``bernoulli(key, p)`` is ``u < p``, ``randint`` is ``low + floor(u * n)``."""
        for name in ("generator", "out", "low", "high", "mean", "std"):
            if not ctx.is_default(name):
                return unsupported(ctx, f"`{op}(..., {name}=...)` is not translated")
        args = [code_of(a.value) for a in ctx.expr("args").elements] if not ctx.is_default("args") else []
        key = f"self.make_rng({STREAM!r})"
        ctx.note(f"random draws take an explicit key: the '{STREAM}' stream, `apply(..., rngs={{'{STREAM}': key}})`")
        if op in IN_PLACE_SAMPLERS:
            _, *given = args
            shape, dtype = shape_and_dtype(ctx.expr("args").elements[0].value)
            ctx.note(f"`x.{op}(...)` replaces x's values by a draw: only x's shape and dtype are read")
            if op == "uniform_":
                low, high = (given + ["0.0", "1.0"][len(given):])[:2] if len(given) <= 2 else (None, None)
                low = code_of(ctx.plain("a")) if not ctx.is_default("a") else low
                high = code_of(ctx.plain("b")) if not ctx.is_default("b") else high
                return emit(f"jax.random.uniform({key}, {shape}, {dtype}, {low}, {high})")
            if op == "normal_":
                mean, std = (given + ["0.0", "1.0"][len(given):])[:2]
                draw = f"jax.random.normal({key}, {shape}, {dtype})"
                scaled = draw if std in ("1", "1.0") else f"{std} * {draw}"
                return emit(scaled if mean in ("0", "0.0") else f"{mean} + {scaled}")
            p = code_of(ctx.plain("p")) if not ctx.is_default("p") else (given[0] if given else "0.5")
            return emit(f"jax.random.bernoulli({key}, {p}, {shape}).astype({dtype})")
        if op == "bernoulli":
            if len(args) != 1 or not ctx.is_default("p"):
                return unsupported(ctx, "`bernoulli` with a probability other than the input's values is not translated")
            return emit(f"jax.random.bernoulli({key}, {args[0]}).astype({args[0]}.dtype)")
        if op == "normal":
            if len(args) != 2 or not ctx.is_default("size"):
                return unsupported(ctx, "`torch.normal` is translated as `normal(mean, std)` with tensors")
            mean, std = args
            ctx.note("`torch.normal(mean, std)` gives no gradient to mean or std (as PyTorch's)")
            return emit(f"jax.lax.stop_gradient({mean} + {std} * jax.random.normal({key}, "
                        f"jnp.broadcast_shapes(jnp.shape({mean}), jnp.shape({std}))))")
        if op == "randint_like":
            x, *bounds = args
            if len(bounds) not in (1, 2):
                return unsupported(ctx, "`torch.randint_like(x, [low,] high)` needs its bounds")
            low, high = (["0", *bounds] if len(bounds) == 1 else bounds)
            dtype = code_of(ctx.expr("dtype")) if not ctx.is_default("dtype") else f"{x}.dtype"
            return emit(f"jax.random.randint({key}, {x}.shape, {low}, {high}).astype({dtype})")
        if not ctx.is_default("size"):
            args.append(code_of(ctx.plain("size")))
        if len(args) not in (2, 3):
            return unsupported(ctx, "`torch.randint([low,] high, size)` needs its bounds and a size")
        low, high, size = (["0", *args] if len(args) == 2 else args)
        dtype = f", {code_of(ctx.expr('dtype'))}" if not ctx.is_default("dtype") else ""
        return emit(f"jax.random.randint({key}, {size}, {low}, {high}{dtype})")

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

        # In train mode `check` replays PyTorch's draws into the translation's: the values must agree too.
        @st.composite
        def replayed_case(draw):
            form = draw(st.sampled_from(REPLAYED_FORMS))
            return RuleCase("nn.Identity()", f"self.layer({form})", shapes(draw), train=True)

        return st.one_of(random_case(), replayed_case())

    no_op_examples = ()
    #: the draws that are reported: each claimed function and method once
    flagged_examples = tuple(forward_returning(draw) for draw in (
        "x[torch.randperm(x.shape[0])]", "torch.normal(x, 1.0, size=(2,))", "torch.bernoulli(x, p=0.5)",
        "torch.multinomial(x.softmax(-1), 1)", "torch.poisson(x.abs())", "x.softmax(-1).multinomial(1)",
        "x.random_(0, 4)", "x.exponential_()",
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


def shape_and_dtype(array) -> tuple[str, str]:
    """Source for the shape and dtype of a translated array expression, read from how it was made when it is a
    fresh constructor (``jnp.zeros(s, dtype=d)``, ``jnp.zeros_like(y)``, ``.astype(d)``), so an in-place
    sampler's receiver is not written out twice; ``r.shape``/``r.dtype`` otherwise."""
    import libcst as cst
    import libcst.matchers as m

    if m.matches(array, m.Call(func=m.Attribute(attr=m.Name("astype")), args=[m.Arg(keyword=None)])):
        shape, _ = shape_and_dtype(array.func.value)
        return shape, code_of(array.args[0].value)
    constructor = m.Call(func=m.Attribute(value=m.Name("jnp"), attr=m.Name("zeros") | m.Name("ones") | m.Name("empty")))
    if m.matches(array, constructor) and array.args and array.args[0].keyword is None:
        dtype = next((code_of(a.value) for a in array.args[1:] if a.keyword is None or a.keyword.value == "dtype"), "jnp.float32")
        return code_of(array.args[0].value), dtype
    like = m.Call(func=m.Attribute(value=m.Name("jnp"), attr=m.Name("zeros_like") | m.Name("ones_like") | m.Name("empty_like")))
    if m.matches(array, like) and len(array.args) == 1:
        array = array.args[0].value
    text = code_of(array)
    if not isinstance(array, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
        text = f"({text})"
    return f"{text}.shape", f"{text}.dtype"
