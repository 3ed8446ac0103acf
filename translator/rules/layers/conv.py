"""L002 TorchConv: ``nn.Conv1d/2d/3d`` -> ``nn.Conv`` on channels-last input."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, is_one, literal_or_none, ntuple
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
from translator.weights.layouts import IDENTITY, conv_weight_to_kernel

SPATIAL_DIMS = {torch.nn.Conv1d: 1, torch.nn.Conv2d: 2, torch.nn.Conv3d: 3}


def flax_padding(ctx, n: int) -> cst.BaseExpression:
    """PyTorch's ``padding`` as Flax's: 0 -> 'VALID', 'same' -> 'SAME', p -> p, (p, q) -> (p, q).

    Flax's default is 'SAME', PyTorch's is 0: leaving the argument out changes
    the output size (20 vs 18 for k3 on 20).  'SAME' is never used for an explicit
    integer padding: for stride 2 on an even size it pads (0, 1), not (1, 1).
    """
    value = literal_or_none(ctx, "padding")
    if value is NotLiteral:
        ctx.note("`padding` is an expression: Flax reads an int or a tuple of ints as PyTorch does")
        return ctx.expr("padding")
    if isinstance(value, str):
        return cst.SimpleString(repr(value.upper()))
    if value == 0 or value == (0,) * n:
        return cst.SimpleString("'VALID'")
    if isinstance(value, int):
        return cst.Integer(str(value))
    return cst.parse_expression(repr(tuple(value)))


@register
class TorchConv(Rule):
    code = "L002"
    name = "TorchConv"
    summary = "nn.Conv{1,2,3}d -> nn.Conv on NHWC; kernel = weight.permute(*k, in, out)"
    torch_classes = ("torch.nn.Conv1d", "torch.nn.Conv2d", "torch.nn.Conv3d")
    doc = RuleDoc(
        what=(
            "`nn.Conv1d/2d/3d(in, out, kernel_size, stride, padding, dilation, groups, bias)` with zero\n"
            "padding (`padding_mode='zeros'`), including 'same'/'valid' padding and depthwise groups."
        ),
        why=(
            "Flax convolutions are channels-last (N, *spatial, C): the translated module transposes its\n"
            "NCHW input once before the first convolution and back before any axis-sensitive operation.\n"
            "The kernel is stored [*k, in/groups, out] instead of [out, in/groups, *k]. Flax's padding\n"
            "default is 'SAME' where PyTorch's is 0, so padding is always written out; `groups` is\n"
            "`feature_group_count` and `dilation` is `kernel_dilation`."
        ),
        example=Example(
            torch="self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)",
            flax="self.conv1 = nn.Conv(32, kernel_size=(3, 3), padding=1)  # input NHWC",
        ),
        fidelity=(
            "Equal within float32 tolerance (measured: Conv2d k3p1 output 7.2e-7, dW relative 6e-7;\n"
            "groups, depthwise, dilation and 'same' all <= 7.4e-7 relative)."
        ),
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        keywords: dict[str, cst.BaseExpression] = {"kernel_size": ntuple(ctx, "kernel_size", n)}
        if not is_one(ctx, "stride", n):
            keywords["strides"] = ntuple(ctx, "stride", n)
        keywords["padding"] = flax_padding(ctx, n)
        if not is_one(ctx, "dilation", n):
            keywords["kernel_dilation"] = ntuple(ctx, "dilation", n)
        if literal_or_none(ctx, "groups") != 1:
            keywords["feature_group_count"] = ctx.expr("groups")
        if literal_or_none(ctx, "bias") is not True:
            keywords["use_bias"] = ctx.expr("bias")
        if literal_or_none(ctx, "padding_mode") != "zeros":
            ctx.unsupported("`padding_mode` other than 'zeros' is not translated yet")
        if not ctx.is_default("dtype"):
            ctx.unsupported("`dtype=` is not translated yet (Flax uses `param_dtype`)")
        return LayerBuild(
            call("nn.Conv", [ctx.expr("out_channels")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=(f"Conv{n}d -> nn.Conv on channels-last input; kernel = weight permuted to [*k, in, out]",),
        )

    def weight_layout(self, module):
        n = SPATIAL_DIMS[type(module)]
        mappings = [TensorMapping("weight", ("params", "kernel"), conv_weight_to_kernel(n))]
        if module.bias is not None:
            mappings.append(TensorMapping("bias", ("params", "bias"), IDENTITY))
        return mappings

    def cases(self):
        @st.composite
        def conv_case(draw):
            n = draw(st.sampled_from([1, 2, 3]))
            groups = draw(st.sampled_from([1, 1, 2]))
            channels_in = groups * draw(st.integers(1, 3))
            channels_out = groups * draw(st.integers(1, 3))
            kernel = draw(st.integers(1, 3))
            dilation = draw(st.integers(1, 2))
            padding = draw(st.sampled_from([0, 1, 2, "'same'", "'valid'"]))
            stride = 1 if padding == "'same'" else draw(st.integers(1, 2))
            bias = draw(st.booleans())
            size = dilation * (kernel - 1) + 1 + draw(st.integers(0, 5))
            spatial = (size,) * n if n < 3 else (min(size, 6),) * 3
            return RuleCase(
                init=(
                    f"nn.Conv{n}d({channels_in}, {channels_out}, {kernel}, stride={stride}, padding={padding}, "
                    f"dilation={dilation}, groups={groups}, bias={bias})"
                ),
                forward="self.layer(x)",
                input_shape=(draw(st.integers(1, 2)), channels_in, *spatial),
            )

        return conv_case()
