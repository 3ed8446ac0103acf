"""L002 TorchConv: ``nn.Conv1d/2d/3d`` -> ``nn.Conv`` on channels-last input (grouped: depthwise
convolutions run as multiply-adds of shifted windows, ``conv_depthwise_by_taps``)."""

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

DEPTHWISE_NAME = "conv_depthwise_by_taps"
DEPTHWISE = '''
def conv_depthwise_by_taps(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                           dimension_numbers=None, feature_group_count=1, precision=None):
    """``jax.lax.conv_general_dilated`` for nn.Conv; a depthwise convolution as multiply-adds (rule L002).

    A convolution with one group per channel (``feature_group_count`` = in = out features, no
    dilation) on channels-last input is, per kernel tap, a shifted strided window of the padded input
    times that tap's per-channel weights: XLA's CPU grouped convolution is 3-5x slower than those
    elementwise multiply-adds, forward and gradient (MobileNetV2). Anything else is passed through.
    """
    n = lhs.ndim - 2
    kernel_size = rhs.shape[:n]
    undilated = all(d == 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
    if not (undilated and feature_group_count == lhs.shape[-1] == rhs.shape[-1] and rhs.shape[-2] == 1):
        return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                            dimension_numbers, feature_group_count, precision=precision)
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(lhs.shape[1:-1], kernel_size, window_strides, padding)
    x = jnp.pad(lhs, ((0, 0), *padding, (0, 0)))
    rows = [(m - k) // s + 1 for m, k, s in zip(x.shape[1:-1], kernel_size, window_strides)]
    y = 0
    for tap in np.ndindex(*kernel_size):
        window = x[(slice(None), *(slice(t, t + s * (q - 1) + 1, s) for t, s, q in zip(tap, window_strides, rows)))]
        y = y + window * rhs[tap][0]
    return y
'''


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
            "(PITFALLS 1 Conv padding_mode, 2.3). A grouped convolution passes nn.Conv its own\n"
            "`conv_general_dilated=conv_depthwise_by_taps` (same layer, same parameters): where the groups\n"
            "are the channels (depthwise, MobileNet's), it sums kh*kw shifted strided windows of the padded\n"
            "input times each tap's per-channel weights, which XLA fuses into elementwise loops; XLA's CPU\n"
            "grouped convolution is 3-5x slower (MobileNetV2 at batch 16: train step 33 -> 11 ms, forward\n"
            "10 -> 2.1 ms). Other groupings go to `jax.lax.conv_general_dilated` unchanged."
        ),
        example=Example(
            torch="self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)",
            flax="self.conv1 = nn.Conv(32, kernel_size=(3, 3), padding=1)  # input NHWC",
        ),
        fidelity=(
            "Equal within float32 tolerance (measured: Conv2d k3p1 output 7.2e-7, dW relative 6e-7;\n"
            "groups, depthwise, dilation and 'same' all <= 7.4e-7 relative; the depthwise multiply-adds\n"
            "sum the taps in another order, within the same float32 floor)."
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
        grouped = literal_or_none(ctx, "groups") != 1
        if grouped:
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
        if grouped:
            keywords["conv_general_dilated"] = cst.Name(DEPTHWISE_NAME)
            return LayerBuild(
                call("nn.Conv", [ctx.expr("out_channels")], keywords),
                CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
                notes=(
                    f"Conv{n}d -> nn.Conv on channels-last input; kernel = weight permuted to [*k, in, out]",
                    "Conv with groups -> nn.Conv(feature_group_count=groups, conv_general_dilated=conv_depthwise_by_taps): "
                    "the same layer and parameters; a depthwise one runs as multiply-adds of shifted windows (fast on CPU)",
                ),
                support=((DEPTHWISE_NAME, DEPTHWISE),),
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
