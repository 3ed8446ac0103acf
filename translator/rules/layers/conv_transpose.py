"""L015 TorchConvTranspose: ``nn.ConvTranspose1d/2d/3d`` -> ``nn.ConvTranspose(transpose_kernel=True)`` on NHWC."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.layers._spatial import sizes
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY, conv_transpose_weight_to_kernel

SPATIAL_DIMS = {torch.nn.ConvTranspose1d: 1, torch.nn.ConvTranspose2d: 2, torch.nn.ConvTranspose3d: 3}


@register
class TorchConvTranspose(Rule):
    code = "L015"
    name = "TorchConvTranspose"
    summary = "nn.ConvTranspose{1,2,3}d -> nn.ConvTranspose(padding=(a, a + output_padding), a = d(k-1) - p, transpose_kernel=True)"
    torch_classes = ("torch.nn.ConvTranspose1d", "torch.nn.ConvTranspose2d", "torch.nn.ConvTranspose3d")
    doc = RuleDoc(
        what=(
            "`nn.ConvTranspose1d/2d/3d(in, out, kernel_size, stride, padding, output_padding, groups=1, bias,\n"
            "dilation)` with zero padding mode."
        ),
        why=(
            "Flax's `nn.ConvTranspose` pads the stride-dilated input, PyTorch's `padding` removes rows from\n"
            "the full output: the Flax padding is (a, a + output_padding) with a = dilation*(k-1) - padding.\n"
            "`padding=((p, p),)` gives the wrong size (13 vs 14) and 'SAME' the right size but shifted\n"
            "values (k3 s2 p1 op1: 1.27). PyTorch's weight is [in, out, *k] and is the gradient of a\n"
            "convolution, so the kernel is spatially flipped: `transpose_kernel=True` with the weight\n"
            "permuted to [*k, out, in] does both; without the flip the error is 1.48 (PITFALLS 1,\n"
            "ConvTranspose2d). `groups > 1` has no `nn.ConvTranspose` field (PITFALLS 2.2)."
        ),
        example=Example(
            torch="self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)",
            flax="self.up = nn.ConvTranspose(8, kernel_size=(3, 3), strides=(2, 2), padding=((1, 2), (1, 2)), transpose_kernel=True)",
        ),
        fidelity=(
            "Equal within float32 tolerance (PITFALLS measured k3s2p1op1: 1.2e-7 / dx 3.6e-7, dW r 4.3e-7;\n"
            "k4s2p1, k5s3p2op2, dilation 2, 1-D and 3-D all <= 4.8e-7)."
        ),
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        kernel = sizes(ctx, "kernel_size", n)
        stride = sizes(ctx, "stride", n)
        padding = sizes(ctx, "padding", n)
        output_padding = sizes(ctx, "output_padding", n)
        dilation = sizes(ctx, "dilation", n)
        if literal_or_none(ctx, "groups") != 1:
            ctx.unsupported(
                "`groups` > 1: nn.ConvTranspose has no feature_group_count; write it with jax.lax.conv_general_dilated"
                "(lhs_dilation=stride, feature_group_count=groups) (PITFALLS 2.2)"
            )
        if literal_or_none(ctx, "padding_mode") != "zeros":
            ctx.unsupported("ConvTranspose only supports padding_mode='zeros' (as in PyTorch)")
        if not ctx.is_default("dtype"):
            ctx.unsupported("`dtype=` is not translated yet (Flax uses `param_dtype`)")
        if None in (kernel, stride, padding, output_padding, dilation):
            return LayerBuild(cst.Name("None"), CallSpec())
        keywords: dict[str, cst.BaseExpression] = {"kernel_size": cst.parse_expression(repr(kernel))}
        if any(s != 1 for s in stride):
            keywords["strides"] = cst.parse_expression(repr(stride))
        pads = tuple((d * (k - 1) - p, d * (k - 1) - p + op) for k, p, op, d in zip(kernel, padding, output_padding, dilation))
        keywords["padding"] = cst.parse_expression(repr(pads))
        if any(d != 1 for d in dilation):
            keywords["kernel_dilation"] = cst.parse_expression(repr(dilation))
        if literal_or_none(ctx, "bias") is not True:
            keywords["use_bias"] = ctx.expr("bias")
        keywords["transpose_kernel"] = cst.Name("True")
        return LayerBuild(
            call("nn.ConvTranspose", [ctx.expr("out_channels")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=(
                "ConvTranspose -> nn.ConvTranspose: padding (a, a + output_padding) with a = dilation*(k-1) - padding; "
                "transpose_kernel=True flips the kernel, kernel = weight permuted to [*k, out, in]",
            ),
        )

    def weight_layout(self, module):
        n = SPATIAL_DIMS[type(module)]
        mappings = [TensorMapping("weight", ("params", "kernel"), conv_transpose_weight_to_kernel(n))]
        if module.bias is not None:
            mappings.append(TensorMapping("bias", ("params", "bias"), IDENTITY))
        return mappings

    def cases(self):
        @st.composite
        def conv_transpose_case(draw):
            # first values are the traps: k3 s2 p1 op1, where 'SAME' and (p, p) padding both fail
            n = draw(st.sampled_from([2, 1, 3]))
            kernel = draw(st.sampled_from([3, 4, 2, 1, 5]))
            stride = draw(st.sampled_from([2, 1, 3]))
            dilation = draw(st.sampled_from([1, 2]))
            padding = min(draw(st.sampled_from([1, 0, 2, 3])), dilation * (kernel - 1) + 1)
            # PyTorch requires output_padding < stride or < dilation
            output_padding = min(draw(st.sampled_from([1, 0, 2])), max(stride, dilation) - 1)
            bias = draw(st.sampled_from([True, False]))
            channels_in, channels_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            size = draw(st.integers(2, 6 if n < 3 else 4))
            if (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 < 1:
                padding = 0  # PyTorch rejects an empty output
            init = (
                f"nn.ConvTranspose{n}d({channels_in}, {channels_out}, {kernel}, stride={stride}, padding={padding}, "
                f"output_padding={output_padding}, dilation={dilation}, bias={bias})"
            )
            return RuleCase(init, "self.layer(x)", (draw(st.integers(1, 2)), channels_in, *(size,) * n))

        return conv_transpose_case()
