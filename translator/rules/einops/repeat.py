"""E002 TorchEinopsRepeat: ``einops.repeat`` -> ``einops.repeat`` on the jax array (pattern read channels-last)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.einops._cases import grouped, left_sides, spelling
from translator.rules.einops._pattern import axes_lengths, pattern_literal
from translator.rules.einops.rearrange import emit_einops
from translator.rules.registry import register


def _repeat(tensor, pattern, **axes_lengths): ...


@register
class TorchEinopsRepeat(Rule):
    code = "E002"
    name = "TorchEinopsRepeat"
    summary = "einops.repeat -> einops.repeat on the jax array (pattern read channels-last)"
    torch_functions = ("einops.repeat",)
    call_signature = signature_of(_repeat)
    doc = RuleDoc(
        what="`einops.repeat(x, pattern, **lengths)` in any import spelling (`repeat(cls, '() n d -> b n d', b=b)`).",
        why=(
            "The same call runs on a jax array (einops dispatches on the array type). A channels-last\n"
            "input (a convolution's output) is read by naming its axes in NHWC order on the left side\n"
            "('b c h w -> b c h w r' becomes 'b h w c -> b c h w r'), so no transpose is needed; where\n"
            "that cannot be proved (channel axis inside `...`, a pattern that is not a constant) the\n"
            "input is transposed back to PyTorch's layout first. einops has no Repeat layer."
        ),
        example=Example(
            torch="cls = repeat(self.cls_token, '() n d -> b n d', b=x.shape[0])",
            flax="cls = einops.repeat(self.cls_token, '() n d -> b n d', b=x.shape[0])",
        ),
        fidelity="Exact: values are copied (broadcast); gradients sum over the copies in both (measured 0).",
    )

    def emit_call(self, ctx):
        return emit_einops(ctx, "repeat", "tensor", pattern_literal(ctx, "pattern"), ctx.expr("pattern"), [], axes_lengths(ctx))

    def cases(self):
        @st.composite
        def repeat_case(draw):
            left = draw(left_sides())
            where = draw(st.integers(0, len(left.axes)))
            axes = (*left.axes[:where], "r", *left.axes[where:])
            pattern = f"{' '.join(left.left)} -> {draw(grouped(axes))}"
            copies = draw(st.integers(1, 3))
            prelude, function = spelling(draw, "repeat")
            forward = f"{function}({left.input()}, {pattern!r}{left.keywords()}, r={copies})"
            return RuleCase(None, forward, left.shape, prelude=prelude)

        return repeat_case()
