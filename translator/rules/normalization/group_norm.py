"""L022 TorchGroupNorm: ``nn.GroupNorm`` -> ``nn.GroupNorm`` on channels-last input."""

from __future__ import annotations

import math

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY


@register
class TorchGroupNorm(Rule):
    code = "L022"
    name = "TorchGroupNorm"
    summary = "nn.GroupNorm(G, C, eps) -> nn.GroupNorm(num_groups=G, epsilon=eps) on NHWC"
    torch_classes = ("torch.nn.GroupNorm",)
    doc = RuleDoc(
        what="`nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)` on (N, C, *) input.",
        why=(
            "Flax normalises groups of the *last* axis, so the input is moved to channels-last (both\n"
            "frameworks use contiguous channel groups). Flax's defaults are num_groups=32 and\n"
            "epsilon=1e-6: both are written out (eps alone gives 1.5e-3 relative at input std 0.05)."
        ),
        example=Example(
            torch="self.norm = nn.GroupNorm(8, 64)",
            flax="self.norm = nn.GroupNorm(num_groups=8, epsilon=1e-05, use_fast_variance=False)",
        ),
        fidelity="Equal within float32 tolerance (measured 9.5e-7 output, dx relative 2e-7).",
    )

    def build_layer(self, ctx):
        eps = literal_or_none(ctx, "eps")
        keywords: dict[str, cst.BaseExpression] = {
            "num_groups": ctx.expr("num_groups"),
            "epsilon": ctx.expr("eps") if eps is NotLiteral else cst.Float(repr(float(eps))),
            "use_fast_variance": cst.Name("False"),
        }
        if literal_or_none(ctx, "affine") is not True:
            keywords["use_scale"] = ctx.expr("affine")
            keywords["use_bias"] = ctx.expr("affine")
        return LayerBuild(
            call("nn.GroupNorm", [], keywords),
            CallSpec(accepts="channels_last", rank=None, produces="channels_last"),
            notes=("GroupNorm on channels-last input; Flax's defaults (32 groups, eps 1e-6) are overridden",),
        )

    def weight_layout(self, module):
        if not module.affine:
            return []
        return [
            TensorMapping("weight", ("params", "scale"), IDENTITY),
            TensorMapping("bias", ("params", "bias"), IDENTITY),
        ]

    def cases(self):
        @st.composite
        def group_norm_case(draw):
            groups = draw(st.integers(1, 3))
            channels = groups * draw(st.integers(1, 3))
            # at least 4 values per group: a one-value group has zero variance, and the output is then
            # pure rounding noise amplified by 1/sqrt(eps) in both frameworks
            spatial = draw(
                st.lists(st.integers(1, 4), min_size=0, max_size=2).filter(
                    lambda dims: (channels // groups) * math.prod(dims) >= 4
                )
            )
            affine = draw(st.booleans())
            scale = draw(st.sampled_from(["x", "x * 0.05"]))
            return RuleCase(f"nn.GroupNorm({groups}, {channels}, affine={affine})", f"self.layer({scale})", (2, channels, *spatial))

        return group_norm_case()
