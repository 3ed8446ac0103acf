"""T013 TorchCreation: ``torch.zeros/ones/full/empty/arange/linspace/eye/*_like/tensor`` -> ``jnp`` constructors."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, shapes, unsupported


def _create(*args, size=None, fill_value=None, start=None, end=None, steps=None, step=None, data=None, out=None, dtype=None,
            layout=None, device=None, requires_grad=False, pin_memory=False, memory_format=None): ...


SHAPED = {"zeros": "jnp.zeros", "ones": "jnp.ones", "empty": "jnp.zeros", "full": "jnp.full"}
LIKE = {"zeros_like": "jnp.zeros_like", "ones_like": "jnp.ones_like", "empty_like": "jnp.zeros_like", "full_like": "jnp.full_like"}
SEQUENCE = {"arange": "jnp.arange", "linspace": "jnp.linspace", "eye": "jnp.eye", "tensor": "jnp.asarray", "as_tensor": "jnp.asarray"}


@register
class TorchCreation(Rule):
    code = "T013"
    name = "TorchCreation"
    summary = "torch.zeros/ones/full/empty/arange/linspace/eye/zeros_like/.../tensor -> jnp (device dropped)"
    torch_functions = tuple(f"torch.{n}" for n in (*SHAPED, *LIKE, *SEQUENCE))
    call_signature = signature_of(_create)
    doc = RuleDoc(
        what=(
            "Tensor constructors: `torch.zeros(2, 3)`, `torch.ones(x.shape)`, `torch.full(size, v)`,\n"
            "`torch.empty(...)`, `torch.arange`, `torch.linspace`, `torch.eye`, `torch.zeros_like(x)`,\n"
            "`ones_like`, `full_like`, `empty_like`, `torch.tensor(data)`, `torch.as_tensor(data)`, with\n"
            "`dtype=` (T010) and `device=` (dropped)."
        ),
        why=(
            "Shapes must be static under `jit`: sizes are Python ints (`x.shape` entries), never traced\n"
            "values. JAX has no uninitialised memory worth having, so `empty` becomes `zeros` (PyTorch's\n"
            "contents are arbitrary; code that reads them was already wrong). Default integer dtype is\n"
            "int32 in JAX (int64 in PyTorch) unless x64 is enabled. Arrays carry no `device` in the model\n"
            "and no `requires_grad`: JAX differentiates with respect to function arguments (`self.param`)."
        ),
        example=Example(torch="pos = torch.arange(n, device=x.device)", flax="pos = jnp.arange(n)"),
        fidelity="Exact values (arange/linspace: same formulas; linspace endpoints exact).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        if literal_or_none(ctx, "requires_grad") is not False:
            return unsupported(ctx, "`requires_grad=True`: JAX differentiates function arguments; make it a `self.param`")
        if not ctx.is_default("device"):
            ctx.note("device placement is dropped: JAX places arrays itself (jax.device_put outside the model)")
        if op.startswith("empty"):
            ctx.note("`empty` becomes zeros: JAX has no uninitialised arrays")
        args = list(ctx.expr("args").elements) if not ctx.is_default("args") else []
        args = [code_of(a.value) for a in args]
        if op == "arange":  # `arange(start=0, end=n, step=s)` by keyword (as fx writes it) -> jnp.arange(start, end, step)
            args = arange_bounds(ctx, args)
        if op == "linspace":  # `linspace(-1, 1, steps=n)`: jnp's names are start, stop, num
            if not ctx.is_default("start"):
                args.insert(0, code_of(ctx.plain("start")))
            args += [code_of(ctx.plain(name)) for name in ("end", "steps") if not ctx.is_default(name)]
            if len(args) != 3:
                return unsupported(ctx, "`torch.linspace` needs its start, end and steps")
        for name in ("size", "data", "fill_value", "end", "steps", "step"):
            if (op == "arange" and name in ("end", "step")) or op == "linspace":
                continue
            if not ctx.is_default(name):
                args.append(f"{name}={code_of(ctx.plain(name))}" if name in ("end", "steps", "step") else code_of(ctx.plain(name)))
        keywords = [] if ctx.is_default("dtype") else [f"dtype={code_of(ctx.expr('dtype'))}"]
        if op in SHAPED:
            arity = 2 if op == "full" else 1
            if len(args) < arity:
                return unsupported(ctx, f"`torch.{op}` needs a size")
            sizes = args[: len(args) - arity + 1]
            shape = sizes[0] if len(sizes) == 1 else f"({', '.join(sizes)})"
            call = [shape, *args[len(sizes):]]
            function = SHAPED[op]
        elif op in LIKE:
            call, function = args, LIKE[op]  # the operand arrives in PyTorch's layout (variadic args are plain)
        else:
            call, function = args, SEQUENCE[op]
        return emit(f"{function}({', '.join([*call, *keywords])})")

    def cases(self):
        @st.composite
        def create_case(draw):
            form = draw(st.sampled_from([
                "x + torch.zeros(x.shape)", "x * torch.ones(x.shape, dtype=torch.float32, device=x.device)",
                "x + torch.full(x.shape, 2.0)", "x + torch.full((1,), 3, dtype=torch.float32)",
                "x + torch.arange(x.shape[-1])", "x * torch.arange(0, 1, 0.25)[: x.shape[-1]]",
                "x + torch.arange(1, 2 * x.shape[-1], 2)", "x + torch.linspace(-1, 1, x.shape[-1])",
                "x + torch.linspace(-1.0, 1.0, steps=x.shape[-1])", "x + torch.linspace(start=0, end=2, steps=x.shape[-1])",
                "x @ torch.eye(x.shape[-1])", "x + torch.zeros_like(x)", "x * torch.ones_like(x, dtype=torch.float32)",
                "x + torch.full_like(x, 0.5)", "x * torch.tensor(2.0)", "x + torch.empty(x.shape) * 0",
                "x + torch.as_tensor([1.5])", "x + torch.tensor(1.5, device=x.device)", "x - torch.empty_like(x) * 0",
                "x + torch.ones(1, x.shape[-1])", "x + torch.zeros(x.size())",
                "x + torch.arange(start=0, end=x.shape[-1], dtype=torch.float32)", "x * torch.arange(end=x.shape[-1])",
                "x + torch.arange(1, end=x.shape[-1] + 1, step=1)", "x - torch.arange(start=2, end=2 * x.shape[-1] + 2, step=2)",
            ]))
            if draw(st.booleans()):  # layout: a constructor shaped like a conv output
                return RuleCase("nn.Conv2d(2, 2, 1)", draw(st.sampled_from([
                    "self.layer(x) + torch.ones_like(self.layer(x))", "self.layer(x) * torch.full_like(self.layer(x), 2.0)",
                    "self.layer(x) + torch.zeros(self.layer(x).shape)",
                ])), (1, 2, 3, 3))
            return RuleCase(None, form, shapes(draw))

        return create_case()


def arange_bounds(ctx, positional: list[str]) -> list[str]:
    """``torch.arange``'s bounds as ``jnp.arange``'s positional (start, end, step), wherever they were
    given: ``arange(5)``, ``arange(start=0, end=5)``, ``arange(1, end=5, step=2)``, ``arange(5, step=1)``."""
    bounds = list(positional)
    if not ctx.is_default("start"):
        bounds.insert(0, code_of(ctx.plain("start")))
    if not ctx.is_default("end"):
        bounds.append(code_of(ctx.plain("end")))
    if not ctx.is_default("step"):
        bounds = (["0"] if len(bounds) == 1 else []) + bounds + [code_of(ctx.plain("step"))]
    return bounds
