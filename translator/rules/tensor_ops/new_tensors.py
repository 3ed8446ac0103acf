"""T042 TorchNewTensor: ``x.new_zeros/new_ones/new_empty/new_full(size)``, ``x.new_tensor(data)`` -> ``jnp`` with x's dtype."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, paren, shapes, unsupported


def _new(input, *args, size=None, fill_value=None, data=None, dtype=None, device=None, requires_grad=False,
         layout=None, pin_memory=False): ...


CONSTRUCTORS = {"new_zeros": "jnp.zeros", "new_ones": "jnp.ones", "new_empty": "jnp.zeros", "new_full": "jnp.full", "new_tensor": "jnp.asarray"}


@register
class TorchNewTensor(Rule):
    code = "T042"
    name = "TorchNewTensor"
    summary = "x.new_zeros / new_ones / new_empty / new_full(size) / new_tensor(data) -> jnp constructors with x.dtype"
    tensor_methods = tuple(CONSTRUCTORS)
    call_signature = signature_of(_new)
    doc = RuleDoc(
        what=(
            "`x.new_zeros(2, 3)`, `x.new_ones(x.shape)`, `x.new_empty(size)`, `x.new_full(size, v)`,\n"
            "`x.new_tensor(data)`, with `dtype=` (T010) and `device=` (dropped)."
        ),
        why=(
            "The `new_*` methods make a tensor with x's dtype and device and nothing of x's values: JAX\n"
            "has no such methods, so they become `jnp.zeros(size, dtype=x.dtype)` and friends. The\n"
            "dtype is what matters: a float16 model keeps creating float16 buffers. `new_empty` becomes\n"
            "zeros (JAX has no uninitialised arrays). Sizes must be static under jit."
        ),
        example=Example(torch="mask = x.new_ones(x.shape[0], 1)", flax="mask = jnp.ones((x.shape[0], 1), dtype=x.dtype)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if literal_or_none(ctx, "requires_grad") is not False:
            return unsupported(ctx, "`requires_grad=True`: JAX differentiates function arguments; make it a `self.param`")
        if not ctx.is_default("device"):
            ctx.note("device placement is dropped: JAX places arrays itself")
        args = [code_of(a.value) for a in ctx.expr("args").elements] if not ctx.is_default("args") else []
        for name in ("size", "data", "fill_value"):
            if not ctx.is_default(name):
                args.append(code_of(ctx.plain(name)))
        # the receiver only lends its dtype, which no layout changes
        dtype = code_of(ctx.expr("dtype")) if not ctx.is_default("dtype") else f"{paren(code_of(ctx.expr('input')))}.dtype"
        if op == "new_tensor":
            if len(args) != 1:
                return unsupported(ctx, "`new_tensor` takes one `data` argument")
            return emit(f"jnp.asarray({args[0]}, dtype={dtype})")
        arity = 2 if op == "new_full" else 1
        if len(args) < arity:
            return unsupported(ctx, f"`{op}` needs a size" + (" and a fill value" if arity == 2 else ""))
        sizes = args[: len(args) - arity + 1]
        shape = sizes[0] if len(sizes) == 1 else f"({', '.join(sizes)})"
        if op == "new_empty":
            ctx.note("`new_empty` becomes zeros: JAX has no uninitialised arrays")
        return emit(f"{CONSTRUCTORS[op]}({', '.join([shape, *args[len(sizes):], f'dtype={dtype}'])})")

    def cases(self):
        @st.composite
        def new_case(draw):
            forms = [
                "x + x.new_zeros(x.shape)", "x * x.new_ones(x.shape[-1])", "x + x.new_full(x.shape, 2.5)",
                "x + x.new_full((1,), 3)", "x + x.new_empty(x.shape) * 0", "x * x.new_tensor([1.5])",
                "x * x.new_tensor(2.0)", "x + x.new_ones(1, x.shape[-1], dtype=torch.float32)",
                "x + x.new_zeros(x.size(), device=x.device)", "x + x.new_ones(size=x.shape)",
                "x + x.new_full(size=x.shape, fill_value=0.25)", "x + x.half().new_ones(x.shape).float()",
                "x * x.new_tensor([[2.0]], dtype=torch.float32)",
            ]
            if draw(st.booleans()):  # the receiver is a conv output: only its dtype is used
                return RuleCase("nn.Conv2d(2, 2, 1)", "self.layer(x) + self.layer(x).new_ones(1, 2, 3, 3)", (1, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shapes(draw))

        return new_case()
