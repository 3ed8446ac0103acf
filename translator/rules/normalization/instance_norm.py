"""L023 TorchInstanceNorm: ``nn.InstanceNorm1d/2d/3d`` -> ``nn.InstanceNorm`` on channels-last input."""

from __future__ import annotations

import libcst as cst
import torch
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

SPATIAL_DIMS = {torch.nn.InstanceNorm1d: 1, torch.nn.InstanceNorm2d: 2, torch.nn.InstanceNorm3d: 3}


@register
class TorchInstanceNorm(Rule):
    code = "L023"
    name = "TorchInstanceNorm"
    summary = "nn.InstanceNorm{1,2,3}d -> nn.InstanceNorm(epsilon=eps, use_scale/use_bias=affine) on NHWC"
    torch_classes = ("torch.nn.InstanceNorm1d", "torch.nn.InstanceNorm2d", "torch.nn.InstanceNorm3d")
    doc = RuleDoc(
        what="`nn.InstanceNorm2d(C, eps=1e-5, affine=False, track_running_stats=False)` and the 1-D/3-D forms.",
        why=(
            "PyTorch's InstanceNorm has no affine parameters by default; Flax's has both, and its\n"
            "epsilon defaults to 1e-6 (1.3e-3 relative at input std 0.05). The translation writes\n"
            "both out and runs on channels-last input."
        ),
        example=Example(
            torch="self.norm = nn.InstanceNorm2d(64)",
            flax="self.norm = nn.InstanceNorm(epsilon=1e-05, use_scale=False, use_bias=False, use_fast_variance=False)",
        ),
        fidelity="Equal within float32 tolerance (measured 4.8e-7 output, dx relative 1.8e-7).",
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        if literal_or_none(ctx, "track_running_stats") is not False:
            ctx.unsupported("`track_running_stats=True` for instance norm is not translated yet")
        eps = literal_or_none(ctx, "eps")
        affine = literal_or_none(ctx, "affine")
        if affine is NotLiteral:
            ctx.unsupported("`affine` must be a constant")
        flag = cst.Name("True" if affine is True else "False")
        keywords = {
            "epsilon": ctx.expr("eps") if eps is NotLiteral else cst.Float(repr(float(eps))),
            "use_scale": flag,
            "use_bias": flag,
            "use_fast_variance": cst.Name("False"),
        }
        return LayerBuild(
            call("nn.InstanceNorm", [], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=("InstanceNorm: no affine parameters by default in PyTorch, eps 1e-5 (Flax: affine, 1e-6)",),
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
        def instance_norm_case(draw):
            n = draw(st.sampled_from([1, 2, 3]))
            channels = draw(st.integers(1, 3))
            affine = draw(st.booleans())
            # two values per instance normalise to exactly +-1: the input gradient is then pure noise
            size = draw(st.integers(3, 5 if n < 3 else 4))
            scale = draw(st.sampled_from(["x", "x * 0.05"]))
            return RuleCase(f"nn.InstanceNorm{n}d({channels}, affine={affine})", f"self.layer({scale})", (2, channels, *(size,) * n))

        return instance_norm_case()
