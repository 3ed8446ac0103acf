"""L024 TorchRMSNorm: ``nn.RMSNorm`` -> ``nn.RMSNorm`` with PyTorch's epsilon (finfo eps when None)."""

from __future__ import annotations

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
from translator.rules.normalization.layer_norm import normalized_rank
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY


@register
class TorchRMSNorm(Rule):
    code = "L024"
    name = "TorchRMSNorm"
    summary = "nn.RMSNorm(shape, eps=None) -> nn.RMSNorm(epsilon=finfo(float32).eps or eps)"
    torch_classes = ("torch.nn.RMSNorm",)
    doc = RuleDoc(
        what="`nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)`.",
        why=(
            "PyTorch's `eps=None` means `torch.finfo(x.dtype).eps` (1.19e-7 in float32); Flax's default\n"
            "is 1e-6. Invisible at unit scale (2.9e-6) but 29% relative at input scale 1e-3. The\n"
            "translation writes the epsilon out."
        ),
        example=Example(
            torch="self.norm = nn.RMSNorm(512)",
            flax="self.norm = nn.RMSNorm(epsilon=float(jnp.finfo(jnp.float32).eps))",
        ),
        fidelity="Equal within float32 tolerance (measured 9.5e-7 output, dx 1.9e-6).",
    )

    def build_layer(self, ctx):
        rank = normalized_rank(ctx)
        if rank is None:
            ctx.unsupported("`normalized_shape` must be a constant int or tuple")
            return LayerBuild(cst.Name("None"), CallSpec())
        eps = literal_or_none(ctx, "eps")
        if eps is None:
            epsilon = cst.parse_expression("float(jnp.finfo(jnp.float32).eps)")
        elif eps is NotLiteral:
            epsilon = ctx.expr("eps")
        else:
            epsilon = cst.Float(repr(float(eps)))
        keywords: dict[str, cst.BaseExpression] = {"epsilon": epsilon}
        if literal_or_none(ctx, "elementwise_affine") is not True:
            keywords["use_scale"] = ctx.expr("elementwise_affine")
        if rank > 1:
            axes = cst.parse_expression(repr(tuple(range(-rank, 0))))
            keywords["reduction_axes"] = axes
            keywords["feature_axes"] = axes
        return LayerBuild(
            call("nn.RMSNorm", [], keywords),
            CallSpec(accepts="plain", produces="plain"),
            notes=("RMSNorm: PyTorch's eps=None is finfo(dtype).eps; Flax's default is 1e-6",),
        )

    def weight_layout(self, module):
        return [TensorMapping("weight", ("params", "scale"), IDENTITY)] if module.weight is not None else []

    def cases(self):
        @st.composite
        def rms_norm_case(draw):
            dims = draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))
            eps = draw(st.sampled_from([None, 1e-5]))
            affine = draw(st.booleans())
            shape_arg = dims[0] if len(dims) == 1 else tuple(dims)
            scale = draw(st.sampled_from(["x", "x * 0.001"]))
            return RuleCase(f"nn.RMSNorm({shape_arg!r}, eps={eps}, elementwise_affine={affine})", f"self.layer({scale})", (2, *dims))

        return rms_norm_case()
