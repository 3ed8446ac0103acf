"""T038 TorchComparison: ``x.eq/ne/gt/lt/ge/le(y)``, ``torch.logical_and/or/xor/not`` -> ``jnp`` (layout kept)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import op_name, shapes
from translator.rules.tensor_ops._pointwise import pointwise


def _compare(input, other=None, *, out=None): ...


COMPARISONS = {
    "eq": "jnp.equal",
    "ne": "jnp.not_equal",
    "not_equal": "jnp.not_equal",
    "gt": "jnp.greater",
    "greater": "jnp.greater",
    "lt": "jnp.less",
    "less": "jnp.less",
    "ge": "jnp.greater_equal",
    "greater_equal": "jnp.greater_equal",
    "le": "jnp.less_equal",
    "less_equal": "jnp.less_equal",
    "logical_and": "jnp.logical_and",
    "logical_or": "jnp.logical_or",
    "logical_xor": "jnp.logical_xor",
}


@register
class TorchComparison(Rule):
    code = "T038"
    name = "TorchComparison"
    summary = "x.eq/ne/gt/lt/ge/le(y), torch.greater/less..., logical_and/or/xor/not -> jnp (bool, layout kept)"
    torch_functions = tuple(f"torch.{n}" for n in (*COMPARISONS, "logical_not"))
    tensor_methods = (*COMPARISONS, "logical_not")
    call_signature = signature_of(_compare)
    doc = RuleDoc(
        what=(
            "Elementwise comparisons in function or method form: eq, ne (not_equal), gt (greater), lt\n"
            "(less), ge (greater_equal), le (less_equal) against a tensor or a number; logical_and, or,\n"
            "xor, not (non-zero is True). The operators `== != > < >= <=` are handled by the rewriter."
        ),
        why=(
            "JAX arrays have no comparison methods; `jnp.greater(x, y)` is `x > y`. The result is a bool\n"
            "array (no gradient), in both frameworks. Broadcasting is NumPy's in both, so a channels-last\n"
            "value keeps its layout only when the other operand shares it or is a number. `torch.eq` is\n"
            "elementwise; `torch.equal` (one bool for the whole tensor) is another function."
        ),
        example=Example(torch="keep = scores.gt(0.5).logical_and(mask)", flax="keep = jnp.logical_and(jnp.greater(scores, 0.5), mask)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        return pointwise(ctx, "jnp.logical_not", 1) if op == "logical_not" else pointwise(ctx, COMPARISONS[op], 2)

    def cases(self):
        names = sorted(COMPARISONS)

        @st.composite
        def compare_case(draw):
            op = draw(st.sampled_from(names))
            logical = op.startswith("logical")
            other = draw(st.sampled_from(["{x} * 0.5", "0.3", "{x}[..., :1]", "{x}.round()", "0"]))
            if logical:  # non-zero is True: x itself has exact zeros
                other = draw(st.sampled_from(["{x}.round()", "{x} > 0.5", "{x}[..., :1]"]))
            if draw(st.booleans()):
                mask = f"torch.{op}({{x}}, {other})"
            else:
                mask = f"{{x}}.{op}({other})"
            if draw(st.booleans()):
                mask = f"torch.logical_not({mask})" if draw(st.booleans()) else f"{{x}}.gt(0).logical_not().logical_or({mask})"
            forward = draw(st.sampled_from([f"torch.where({mask}, {{x}}, 2 * {{x}})", f"{{x}} * {mask}.float()"]))
            if draw(st.booleans()):  # layout: comparing a conv output with a number or itself
                return RuleCase("nn.Conv2d(2, 2, 1)", forward.format(x="self.layer(x)"), (1, 2, 3, 3))
            return RuleCase(None, forward.format(x="x"), shapes(draw))

        return compare_case()
