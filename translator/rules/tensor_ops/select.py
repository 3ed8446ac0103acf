"""T020 TorchWhere: ``torch.where(c, a, b)``, ``x.masked_fill(m, v)``, ``tril``/``triu`` -> ``jnp.where``/``tril``/``triu``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes, unsupported


def _where(input, other=None, value=None, *, diagonal=0, out=None): ...


@register
class TorchWhere(Rule):
    code = "T020"
    name = "TorchWhere"
    summary = "torch.where(c, a, b) / x.masked_fill(mask, v) / tril / triu -> jnp.where / jnp.tril / jnp.triu"
    torch_functions = ("torch.where", "torch.masked_fill", "torch.tril", "torch.triu")
    tensor_methods = ("where", "masked_fill", "tril", "triu")
    call_signature = signature_of(_where)
    doc = RuleDoc(
        what="`torch.where(cond, a, b)`, `a.where(cond, b)`, `x.masked_fill(mask, value)`, `torch.tril(x, diagonal)`, `x.triu(1)`.",
        why=(
            "JAX arrays cannot be written in place, so masking is a selection: `masked_fill(mask, v)` is\n"
            "`jnp.where(mask, v, x)` (note the order: the fill comes first). The gradient flows to the\n"
            "selected branch only, as in PyTorch. One-argument `torch.where(cond)` returns indices of a\n"
            "data-dependent count, which `jit` cannot trace: it is reported. Masks and operands\n"
            "broadcast, so all are brought to PyTorch's layout."
        ),
        example=Example(torch="s = s.masked_fill(mask == 0, float('-inf'))", flax="s = jnp.where(mask == 0, float('-inf'), s)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        x = code(ctx, "input")
        if op in ("tril", "triu"):
            k = code_of(ctx.expr("other")) if not ctx.is_default("other") else code_of(ctx.expr("diagonal"))
            return emit(f"jnp.{op}({x}{'' if k == '0' else ', ' + k})")
        if op == "masked_fill":
            if ctx.is_default("value"):
                return unsupported(ctx, "`masked_fill` needs a mask and a value")
            return emit(f"jnp.where({code(ctx, 'other')}, {code(ctx, 'value')}, {x})")
        if isinstance(ctx.target, str):  # a.where(cond, b) == torch.where(cond, a, b)
            if ctx.is_default("value") and ctx.is_default("other"):
                return unsupported(ctx, "`x.where(cond, y)` needs a condition and an alternative")
            return emit(f"jnp.where({code(ctx, 'other')}, {x}, {code(ctx, 'value')})")
        if ctx.is_default("other"):
            return unsupported(ctx, "`torch.where(cond)` returns indices of a data-dependent count: not traceable under jit")
        return emit(f"jnp.where({x}, {code(ctx, 'other')}, {code(ctx, 'value')})")

    def cases(self):
        @st.composite
        def where_case(draw):
            shape = shapes(draw, min_rank=2)
            k = draw(st.integers(-2, 2))
            forms = ["torch.where(x > 0, x, x * 0.5)", "torch.where(x > 0, x * 2, 0.0)", "x.where(x < 0.5, x.exp())",
                     "x.masked_fill(x < 0, 0.0)", "x.masked_fill(x[..., :1] > 0, -1.5)", "torch.masked_fill(x, x == 0, 2.0)",
                     f"torch.tril(x, {k})", f"x.triu({k})", "x.tril()", f"torch.triu(x, diagonal={k})"]
            if draw(st.booleans()):  # layout: masking a conv output with a plain mask
                return RuleCase("nn.Conv2d(2, 2, 1)", draw(st.sampled_from([
                    "self.layer(x).masked_fill(x > 0, 0.0)", "torch.where(self.layer(x) > 0, self.layer(x), x)",
                    "self.layer(x).tril()"])), (1, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return where_case()
