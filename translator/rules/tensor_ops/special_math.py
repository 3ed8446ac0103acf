"""T041 TorchAtan2Erfinv: ``torch.atan2(y, x)`` / ``arctan2`` -> ``jnp.arctan2``; ``erfinv`` -> ``jax.lax.erf_inv``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import op_name, shapes
from translator.rules.tensor_ops._pointwise import pointwise


def _math(input, other=None, *, out=None): ...


@register
class TorchAtan2Erfinv(Rule):
    code = "T041"
    name = "TorchAtan2Erfinv"
    summary = "torch.atan2(y, x) / arctan2 / y.atan2(x) -> jnp.arctan2; torch.erfinv / x.erfinv() -> jax.lax.erf_inv"
    torch_functions = ("torch.atan2", "torch.arctan2", "torch.erfinv", "torch.special.erfinv")
    tensor_methods = ("atan2", "arctan2", "erfinv")
    call_signature = signature_of(_math)
    doc = RuleDoc(
        what="`torch.atan2(y, x)`, `torch.arctan2`, `y.atan2(x)` (the angle of (x, y), quadrant-aware); `torch.erfinv(x)`, `torch.special.erfinv`, `x.erfinv()`.",
        why=(
            "NumPy names atan2 `arctan2` and has no erfinv; `jax.lax.erf_inv` is the inverse error\n"
            "function (also `jax.scipy.special.erfinv`). No tensor methods in JAX. Both are\n"
            "elementwise: a channels-last value keeps its layout (atan2 when both operands share it)."
        ),
        example=Example(torch="theta = torch.atan2(y, x)", flax="theta = jnp.arctan2(y, x)"),
        fidelity=(
            "atan2 within float32 rounding, gradients too (at (0, 0) both give nan). erfinv within a few\n"
            "ulp (different polynomial approximations), +-inf at +-1 and nan outside [-1, 1] in both."
        ),
    )

    def emit_call(self, ctx):
        return pointwise(ctx, "jax.lax.erf_inv", 1) if op_name(ctx) == "erfinv" else pointwise(ctx, "jnp.arctan2", 2)

    def cases(self):
        @st.composite
        def math_case(draw):
            op = draw(st.sampled_from(["atan2", "arctan2", "erfinv", "special.erfinv"]))
            if op.endswith("erfinv"):
                # inside (-1, 1), away from the poles where float32 rounding is amplified
                arg = "torch.tanh({x}) * 0.9"
                forward = f"torch.{op}({arg})" if draw(st.booleans()) or op.startswith("special") else f"({arg}).erfinv()"
            else:
                other = draw(st.sampled_from(["{x}.exp()", "({x} * 0.5 - 1.0)", "({x}[..., :1] + 2.0)"]))  # x != 0 where y == 0
                forward = f"torch.{op}({{x}}, {other})" if draw(st.booleans()) else f"{{x}}.{op}({other})"
            if draw(st.booleans()):  # layout: elementwise on a conv output
                return RuleCase("nn.Conv2d(2, 2, 1)", forward.format(x="self.layer(x)"), (1, 2, 3, 3))
            return RuleCase(None, forward.format(x="x"), shapes(draw))

        return math_case()
