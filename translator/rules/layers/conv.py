"""L002 TorchConv: ``nn.Conv1d/2d/3d`` -> ``nn.Conv`` on channels-last input (``DepthwiseConv`` when depthwise)."""

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

DEPTHWISE_NAME = "DepthwiseConv"
DEPTHWISE = '''
class DepthwiseConv(nn.Module):
    """``nn.Conv(features, ..., feature_group_count=<input channels>)`` as multiply-adds (rule L002).

    The same parameters as that nn.Conv (``kernel`` [*kernel_size, 1, features], ``bias``) and the
    same output: output channel ``c * m + j`` reads input channel ``c`` (``m = features // channels``).
    XLA's CPU convolution is slow for depthwise kernels (10-100x on MobileNetV2's); a sum of one
    strided slice of the padded input per kernel tap, times that tap, is one fused loop.
    """

    features: int
    kernel_size: tuple[int, ...]
    strides: Any = 1
    padding: Any = "SAME"
    kernel_dilation: Any = 1
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        n = len(self.kernel_size)
        strides, dilation = (
            (v,) * n if isinstance(v, int) else tuple(v)
            for v in (self.strides, self.kernel_dilation)
        )
        extent = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, dilation)]
        mode = self.padding if isinstance(self.padding, str) else "constant"
        if mode == "SAME":
            pads = jax.lax.padtype_to_pads(x.shape[1:-1], extent, strides, "SAME")
        elif mode in ("REFLECT", "CIRCULAR"):  # as nn.Conv: ((K - 1) // 2, K // 2)
            pads = [((e - 1) // 2, e // 2) for e in extent]
        elif mode == "VALID":
            pads = [(0, 0)] * n
        elif isinstance(self.padding, int):
            pads = [(self.padding, self.padding)] * n
        else:
            pads = [(p, p) if isinstance(p, int) else tuple(p) for p in self.padding]
        pad_mode = {"REFLECT": "reflect", "CIRCULAR": "wrap"}.get(mode, "constant")
        x = jnp.pad(x, [(0, 0), *pads, (0, 0)], mode=pad_mode)
        if self.features != x.shape[-1]:  # multiplier m: channel c feeds c * m .. c * m + m - 1
            x = jnp.repeat(x, self.features // x.shape[-1], axis=-1)
        shape = (*self.kernel_size, 1, self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        out = [(size - e) // s + 1 for size, e, s in zip(x.shape[1:-1], extent, strides)]
        y = 0
        for tap in np.ndindex(*self.kernel_size):
            starts = [t * d for t, d in zip(tap, dilation)]
            window = [slice(a, a + (o - 1) * s + 1, s) for a, o, s in zip(starts, out, strides)]
            y = y + x[(slice(None), *window)] * kernel[tap][0]
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
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


def depthwise_test(ctx):
    """Whether the convolution is depthwise (``groups == in_channels``): True, False, or the test as code.

    Decided here when both are constants or the same expression (``nn.Conv2d(c, c * m, 3, groups=c)``);
    otherwise the layer is chosen where it is built (``DepthwiseConv(...) if groups == in_planes else
    nn.Conv(...)``, as MobileNetV2's ``ConvBNReLU(..., groups=groups)``); both hold the same kernel.
    """
    groups, channels = literal_or_none(ctx, "groups"), literal_or_none(ctx, "in_channels")
    if groups == 1:
        return False
    if NotLiteral not in (groups, channels):
        return groups == channels
    left, right = code_of(ctx.expr("groups")), code_of(ctx.expr("in_channels"))
    if left == right:
        return True
    atom = (cst.Name, cst.Attribute, cst.Integer, cst.Call, cst.Subscript)
    left, right = (code if isinstance(ctx.expr(name), atom) else f"({code})" for name, code in (("groups", left), ("in_channels", right)))
    return cst.parse_expression(f"{left} == {right}")


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
            "(PITFALLS 1 Conv padding_mode, 2.3). A depthwise convolution (`groups == in_channels`, as in\n"
            "MobileNet) is `DepthwiseConv`, a small module with nn.Conv's parameters (`kernel`\n"
            "[*k, 1, out], `bias`) that sums one strided slice of the padded input per kernel tap times\n"
            "that tap: XLA's CPU convolution is 10-100x slower than that fused loop for depthwise kernels\n"
            "(MobileNetV2 3x3, forward and gradient). When `groups` is an argument the layer is chosen\n"
            "where it is built: `DepthwiseConv(...) if groups == in_planes else nn.Conv(...)`."
        ),
        example=Example(
            torch="self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)",
            flax="self.conv1 = nn.Conv(32, kernel_size=(3, 3), padding=1)  # input NHWC",
        ),
        fidelity=(
            "Equal within float32 tolerance (measured: Conv2d k3p1 output 7.2e-7, dW relative 6e-7;\n"
            "groups, depthwise, dilation and 'same' all <= 7.4e-7 relative; DepthwiseConv with stride,\n"
            "dilation, multiplier and padding modes <= 9.1e-7 relative, outputs and gradients)."
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
        if literal_or_none(ctx, "bias") is not True:
            keywords["use_bias"] = ctx.expr("bias")
        depthwise = depthwise_test(ctx)
        grouped = dict(keywords)
        if literal_or_none(ctx, "groups") != 1:
            grouped["feature_group_count"] = ctx.expr("groups")
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
            keywords["padding"] = grouped["padding"] = cst.SimpleString(repr(plan))
        elif plan is not None:
            keywords["padding"] = grouped["padding"] = cst.SimpleString("'VALID'")
        conv: cst.BaseExpression = call("nn.Conv", [ctx.expr("out_channels")], grouped)
        notes = [f"Conv{n}d -> nn.Conv on channels-last input; kernel = weight permuted to [*k, in, out]"]
        support: tuple[tuple[str, str], ...] = ()
        if depthwise is not False:
            separate = call(DEPTHWISE_NAME, [ctx.expr("out_channels")], keywords)
            conv = separate if depthwise is True else cst.IfExp(test=depthwise, body=separate, orelse=conv)
            notes = [
                f"Conv{n}d with groups == in_channels (depthwise) -> DepthwiseConv: one multiply-add per kernel tap "
                "(XLA's CPU convolution is slow for depthwise kernels); the same kernel [*k, 1, out] as nn.Conv"
            ]
            support = ((DEPTHWISE_NAME, DEPTHWISE),)
        spec = CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last")
        if isinstance(plan, tuple):
            widths = ((0, 0), *plan, (0, 0))
            return LayerBuild(
                cst.parse_expression(
                    f"nn.Sequential([partial(jnp.pad, pad_width={widths!r}, mode={PAD_MODES[mode][0]!r}), {code_of(conv)}])"
                ),
                spec,
                notes=(
                    *(notes if depthwise is not False else ()),
                    f"Conv{n}d padding_mode={mode!r} -> jnp.pad then a 'VALID' convolution (Flax's padding strings ignore "
                    "the padding amount); the kernel is the Sequential's layers_1",
                ),
                support=support,
            )
        return LayerBuild(conv, spec, notes=tuple(notes), support=support)

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
            if draw(st.booleans()):  # depthwise (DepthwiseConv): groups == in_channels, channel multiplier 1-3
                channels_in = groups = draw(st.integers(1, 4))
            else:
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
            shape = (draw(st.integers(1, 2)), channels_in, *spatial)
            options = f"stride={stride}, padding={padding}, dilation={dilation}, bias={bias}, padding_mode={mode!r}"
            if draw(st.booleans()):
                # `groups` an argument: depthwise or not is decided where the layer is built (MobileNetV2's ConvBNReLU)
                prelude = f"def conv(i, o, groups):\n    return nn.Conv{n}d(i, o, {kernel}, groups=groups, {options})\n"
                return RuleCase(f"conv({channels_in}, {channels_out}, {groups})", "self.layer(x)", shape, prelude=prelude)
            return RuleCase(f"nn.Conv{n}d({channels_in}, {channels_out}, {kernel}, groups={groups}, {options})", "self.layer(x)", shape)

        return conv_case()
