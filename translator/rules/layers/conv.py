"""L002 TorchConv: ``nn.Conv1d/2d/3d`` -> ``nn.Conv`` on channels-last input."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, code_of, is_one, literal_or_none, ntuple
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


#: PyTorch padding_mode -> jnp.pad mode, and the Flax padding string that pads the same way when one exists
PAD_MODES = {"reflect": ("reflect", "REFLECT"), "replicate": ("edge", None), "circular": ("wrap", "CIRCULAR")}


def padding_plan(mode, padding, kernel, dilation, n: int):
    """How a non-zero ``padding_mode`` is written: None (zeros), a Flax string, or (low, high) pairs for jnp.pad.

    Flax's 'REFLECT'/'CIRCULAR' always pad ((K-1)//2, K//2) with K the dilated kernel and ignore the
    padding amount (PITFALLS 1 Conv padding_mode): they are used only when that equals PyTorch's
    padding; otherwise the input is padded with jnp.pad before a 'VALID' convolution (PITFALLS 2.3).
    """
    if mode == "zeros" or padding == "valid":
        return None
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if padding == "same":  # PyTorch pads total K-1, the extra cell on the right: Flax's split
        pairs = tuple(((e - 1) // 2, e // 2) for e in extent)
    else:
        pairs = tuple((p, p) for p in ((padding,) * n if isinstance(padding, int) else padding))
    if not any(lo or hi for lo, hi in pairs):
        return None
    native = PAD_MODES[mode][1]
    if native and pairs == tuple(((e - 1) // 2, e // 2) for e in extent):
        return native
    return pairs


@register
class TorchConv(Rule):
    code = "L002"
    name = "TorchConv"
    summary = "nn.Conv{1,2,3}d -> nn.Conv on NHWC; kernel = weight.permute(*k, in, out)"
    torch_classes = ("torch.nn.Conv1d", "torch.nn.Conv2d", "torch.nn.Conv3d")
    doc = RuleDoc(
        what=(
            "`nn.Conv1d/2d/3d(in, out, kernel_size, stride, padding, dilation, groups, bias, padding_mode)`,\n"
            "including 'same'/'valid' padding, depthwise groups and reflect/replicate/circular padding modes."
        ),
        why=(
            "Flax convolutions are channels-last (N, *spatial, C): the translated module transposes its\n"
            "NCHW input once before the first convolution and back before any axis-sensitive operation.\n"
            "The kernel is stored [*k, in/groups, out] instead of [out, in/groups, *k]. Flax's padding\n"
            "default is 'SAME' where PyTorch's is 0, so padding is always written out; `groups` is\n"
            "`feature_group_count` and `dilation` is `kernel_dilation`. Flax's 'REFLECT'/'CIRCULAR' pad\n"
            "((K-1)//2, K//2) whatever PyTorch's padding is (reflect k3 p2: 10 vs 12 rows), so they are used\n"
            "only when that matches; otherwise (and for replicate) the layer is\n"
            "`nn.Sequential([partial(jnp.pad, ..., mode='reflect'|'edge'|'wrap'), nn.Conv(..., 'VALID')])`\n"
            "(PITFALLS 1 Conv padding_mode, 2.3)."
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
        if not ctx.is_default("dtype"):
            ctx.unsupported("`dtype=` is not translated yet (Flax uses `param_dtype`)")
        mode = literal_or_none(ctx, "padding_mode")
        plan = None
        if mode != "zeros":
            kernel, dilation = (literal_or_none(ctx, name) for name in ("kernel_size", "dilation"))
            padding = literal_or_none(ctx, "padding")
            if NotLiteral in (mode, kernel, dilation, padding) or mode not in PAD_MODES:
                ctx.unsupported("`padding_mode`, `padding`, `kernel_size` and `dilation` must be constants")
            else:
                kernel = (kernel,) * n if isinstance(kernel, int) else tuple(kernel)
                dilation = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
                plan = padding_plan(mode, padding, kernel, dilation, n)
        if isinstance(plan, str):
            keywords["padding"] = cst.SimpleString(repr(plan))
        elif plan is not None:
            keywords["padding"] = cst.SimpleString("'VALID'")
            conv = code_of(call("nn.Conv", [ctx.expr("out_channels")], keywords))
            widths = ((0, 0), *plan, (0, 0))
            return LayerBuild(
                cst.parse_expression(f"nn.Sequential([partial(jnp.pad, pad_width={widths!r}, mode={PAD_MODES[mode][0]!r}), {conv}])"),
                CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
                notes=(
                    f"Conv{n}d padding_mode={mode!r} -> jnp.pad then a 'VALID' nn.Conv (Flax's padding strings ignore "
                    "the padding amount); the kernel is the Sequential's layers_1",
                ),
            )
        return LayerBuild(
            call("nn.Conv", [ctx.expr("out_channels")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=(f"Conv{n}d -> nn.Conv on channels-last input; kernel = weight permuted to [*k, in, out]",),
        )

    def weight_layout(self, module):
        n = SPATIAL_DIMS[type(module)]
        plan = padding_plan(module.padding_mode, module.padding, module.kernel_size, module.dilation, n)
        prefix = ("params", "layers_1") if isinstance(plan, tuple) else ("params",)  # inside nn.Sequential
        mappings = [TensorMapping("weight", (*prefix, "kernel"), conv_weight_to_kernel(n))]
        if module.bias is not None:
            mappings.append(TensorMapping("bias", (*prefix, "bias"), IDENTITY))
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
            # padding modes: reflect/circular with p != (K-1)/2 must not use Flax's 'REFLECT'/'CIRCULAR'
            mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
            size = dilation * (kernel - 1) + 1 + draw(st.integers(0, 5))
            if mode != "zeros":
                size = max(size, 3)  # reflect needs padding < size
            spatial = (size,) * n if n < 3 else (min(size, 6),) * 3
            return RuleCase(
                init=(
                    f"nn.Conv{n}d({channels_in}, {channels_out}, {kernel}, stride={stride}, padding={padding}, "
                    f"dilation={dilation}, groups={groups}, bias={bias}, padding_mode={mode!r})"
                ),
                forward="self.layer(x)",
                input_shape=(draw(st.integers(1, 2)), channels_in, *spatial),
            )

        return conv_case()
