"""L002 TorchConv: ``nn.Conv1d/2d/3d`` -> ``nn.Conv`` on channels-last input, with
``conv_general_dilated=conv_for_cpu``: on CPU, depthwise convolutions run as multiply-adds of shifted
windows, and few-channel and patch-embedding ones as one matmul of the kernel with the windows."""

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

CONV_NAME = "conv_for_cpu"
CONV_NOTE = (
    "conv_general_dilated=conv_for_cpu: the same layer and parameters; on CPU a depthwise convolution runs as "
    "multiply-adds, a few-channel or patch-embedding one as one matmul (or, strided, a conv of pixel blocks)"
)
CONV_FOR_CPU = """
def conv_for_cpu(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                 dimension_numbers=None, feature_group_count=1, precision=None):
    \"\"\"``jax.lax.conv_general_dilated`` for nn.Conv, by an algorithm XLA's CPU backend runs fast (rule L002).

    Channels-last input, kernel [*k, in / groups, out]; the result is the convolution's, its sums in
    another order. On CPU (elsewhere, and for any other convolution: lax's):
    - depthwise (one group per channel, no dilation): kh*kw shifted strided windows times per-channel
      taps, fused elementwise loops (XLA's grouped convolution is 3-5x slower, forward and gradient);
    - ungrouped with windows that tile the input (no padding, and on each axis stride = kernel or one
      window: a patch embedding, a DCGAN discriminator's last layer): the patches by a reshape and one
      matmul;
    - ungrouped with at most 4 input channels and 16 out features (first layers): one matmul of the
      kernel with the windows, forward and gradient 1.2-4x faster than XLA's convolution; or, with 2-4
      channels and a stride that divides the kernel on every axis (DCGAN's 4x4 stride 2), a stride-1
      convolution of s*s-pixel blocks, 1.5-2x faster forward than either.
    \"\"\"
    n = lhs.ndim - 2
    kernel_size, dilation = rhs.shape[:n], tuple(rhs_dilation or (1,) * n)
    if isinstance(padding, str):
        extent = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
        padding = jax.lax.padtype_to_pads(lhs.shape[1:-1], extent, window_strides, padding)
    cpu = jax.default_backend() == "cpu" and all(d == 1 for d in (lhs_dilation or ()))
    if cpu and feature_group_count == lhs.shape[-1] == rhs.shape[-1] and rhs.shape[-2] == 1 and set(dilation) == {1}:
        return conv_depthwise_by_taps(lhs, rhs, window_strides, padding)
    # windows that tile the input: stride = kernel, or a single window covering the axis (whatever its stride)
    tiles = set(dilation) == {1} and not any(map(any, padding)) and all(
        k in (s, m) for k, s, m in zip(kernel_size, window_strides, lhs.shape[1:-1]))
    if cpu and feature_group_count == 1 and tiles:
        return conv_by_patches(lhs, rhs, precision)
    if cpu and feature_group_count == 1 and lhs.shape[-1] <= 4 and rhs.shape[-1] <= 16:
        blocks = all(s > 1 and k % s == 0 for k, s in zip(kernel_size, window_strides)) and set(dilation) == {1}
        if blocks and lhs.shape[-1] > 1:
            return conv_by_blocks(lhs, rhs, window_strides, padding, precision)
        return conv_as_matmul(lhs, rhs, window_strides, padding, dilation, precision)
    return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision)


def conv_windows(x, kernel_size, strides, padding, dilation, first=1):
    \"\"\"For each kernel tap, in order, the strided window of ``x`` (padded on its spatial axes
    ``first``, ``first + 1``, ...) that the tap multiplies.\"\"\"
    pads = [(0, 0, 0)] * x.ndim
    for axis, (lo, hi) in enumerate(padding, first):
        pads[axis] = (lo, hi, 0)
    x = jax.lax.pad(x, jnp.zeros((), x.dtype), pads)
    spatial = x.shape[first:first + len(kernel_size)]
    rows = [(m - d * (k - 1) - 1) // s + 1 for m, k, s, d in zip(spatial, kernel_size, strides, dilation)]
    lead = (slice(None),) * first
    return [
        x[(*lead, *(slice(t * d, t * d + s * (q - 1) + 1, s) for t, s, d, q in zip(tap, strides, dilation, rows)))]
        for tap in np.ndindex(*kernel_size)
    ]


def conv_depthwise_by_taps(x, kernel, strides, padding):
    \"\"\"A depthwise convolution (kernel [*k, 1, C]) as the sum of each tap's window times its weights.\"\"\"
    windows = conv_windows(x, kernel.shape[:-2], strides, padding, (1,) * (x.ndim - 2))
    y = 0
    for window, taps in zip(windows, kernel.reshape(-1, kernel.shape[-1])):
        y = y + window * taps
    return y


def conv_by_patches(x, kernel, precision=None):
    \"\"\"A convolution whose windows tile the input (no padding; on each axis stride = kernel, or one
    window covering it): the patches by a reshape, then one matmul with the kernel [*k * in, out].\"\"\"
    n, size = x.ndim - 2, kernel.shape[:-2]
    rows = [m // k for m, k in zip(x.shape[1:-1], size)]
    x = x[(slice(None), *(slice(0, q * k) for q, k in zip(rows, size)))]  # rows past the last patch
    x = x.reshape(x.shape[0], *(d for q, k in zip(rows, size) for d in (q, k)), x.shape[-1])
    x = x.transpose(0, *range(1, 2 * n, 2), *range(2, 2 * n + 1, 2), 2 * n + 1)  # N Q1 Q2 .. k1 k2 .. C
    return jnp.matmul(x.reshape(*x.shape[:n + 1], -1), kernel.reshape(-1, kernel.shape[-1]), precision=precision)


def conv_as_matmul(x, kernel, strides, padding, dilation, precision=None):
    \"\"\"An ungrouped convolution as one matmul: kernel (out, taps * in) @ windows (taps * in, N * rows).

    The windows are channels-major (C, N, *rows), so the matmul's long axis is the rows.\"\"\"
    n, features = x.ndim - 2, kernel.shape[-1]
    windows = jnp.stack(conv_windows(jnp.moveaxis(x, -1, 0), kernel.shape[:n], strides, padding, dilation, first=2))
    y = jnp.matmul(kernel.reshape(-1, features).T, windows.reshape(-1, windows[0, 0].size), precision=precision)
    return jnp.moveaxis(y.reshape(features, *windows.shape[2:]), 0, -1)


def conv_by_blocks(x, kernel, strides, padding, precision=None):
    \"\"\"A convolution whose stride divides its kernel on every axis as a stride-1 convolution of blocks:
    each s1 x s2 .. block of pixels is one pixel of s1*s2*..*C channels (space to depth), and the kernel's
    taps regroup the same way into k/s taps per axis.\"\"\"
    n, channels, features = x.ndim - 2, x.shape[-1], kernel.shape[-1]
    taps = [k // s for k, s in zip(kernel.shape[:n], strides)]
    rows = [(m + lo + hi - k) // s + 1 for m, (lo, hi), k, s in zip(x.shape[1:-1], padding, kernel.shape[:n], strides)]
    read = [s * (q + t - 1) for q, t, s in zip(rows, taps, strides)]  # the rows the windows read; the rest is cut
    pads = [(0, 0, 0), *((lo, r - m - lo, 0) for (lo, _), r, m in zip(padding, read, x.shape[1:-1])), (0, 0, 0)]
    x = jax.lax.pad(x, jnp.zeros((), x.dtype), pads)
    x = x.reshape(x.shape[0], *(d for r, s in zip(read, strides) for d in (r // s, s)), channels)
    x = x.transpose(0, *range(1, 2 * n, 2), *range(2, 2 * n + 1, 2), 2 * n + 1)  # N B1 B2 .. s1 s2 .. C
    x = x.reshape(*x.shape[:n + 1], -1)
    kernel = kernel.reshape(*(d for t, s in zip(taps, strides) for d in (t, s)), channels, features)
    kernel = kernel.transpose(*range(0, 2 * n, 2), *range(1, 2 * n, 2), 2 * n, 2 * n + 1)  # t1 t2 .. s1 s2 .. C O
    kernel = kernel.reshape(*taps, -1, features)
    spec = jax.lax.conv_dimension_numbers(x.shape, kernel.shape, ("N" + "HWD"[:n] + "C", "HWD"[:n] + "IO", "N" + "HWD"[:n] + "C"))
    return jax.lax.conv_general_dilated(x, kernel, (1,) * n, "VALID", dimension_numbers=spec, precision=precision)
"""


def may_run_other_than_lax(ctx) -> bool:
    """False when the constructor's constants rule out all of ``conv_for_cpu``'s rewrites (ungrouped with
    more than 4 input channels or 16 out features and windows that overlap; grouped but not depthwise):
    nn.Conv's default is kept."""
    channels, features, groups = (literal_or_none(ctx, name) for name in ("in_channels", "out_channels", "groups"))
    kernel, stride, padding = (literal_or_none(ctx, name) for name in ("kernel_size", "stride", "padding"))
    if NotLiteral not in (kernel, stride) and kernel == stride and padding in (0, "valid"):
        return True  # patches (conv_by_patches)
    known = [isinstance(v, int) and not isinstance(v, bool) for v in (channels, features, groups)]
    if known[2] and groups == 1:
        return not ((known[0] and channels > 4) or (known[1] and features > 16))
    if all(known):
        return groups == channels == features
    return True


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
            "(PITFALLS 1 Conv padding_mode, 2.3). An nn.Conv passes its own\n"
            "`conv_general_dilated=conv_for_cpu` (same layer, same parameters; left out where the constants\n"
            "rule every rewrite out), which on CPU picks an algorithm by shape: where the groups are the\n"
            "channels (depthwise, MobileNet's), it sums kh*kw shifted strided windows of the padded input\n"
            "times each tap's per-channel weights, which XLA fuses into elementwise loops; XLA's CPU grouped\n"
            "convolution is 3-5x slower (MobileNetV2 at batch 16: train step 33 -> 11 ms, forward 10 -> 2.1\n"
            "ms). With at most 4 input channels and 16 out features (a first layer) it is one matmul, kernel\n"
            "(out, taps*in) @ windows (taps*in, N*rows), the windows channels-major: XLA's convolution at 1-4\n"
            "channels was 1.2-4x slower forward and gradient (at batch 16: DCGAN discriminator forward 1.76\n"
            "-> 1.05 of PyTorch; VGG 1.07 -> 0.62; LeNet-5 1.17 -> 0.58); with 2-4 channels and a stride that\n"
            "divides the kernel on every axis (DCGAN's 4x4 stride 2) it is instead a stride-1 convolution of\n"
            "s x s-pixel blocks (space to depth: s*s*C channels, k/s taps), 1.5-2x faster forward than the\n"
            "matmul or lax's at 3-4 channels (discriminator forward at 8x: 1.03 -> 0.80-0.89 of PyTorch); with\n"
            "one channel the matmul stays faster. Where the windows tile the input\n"
            "(no padding; stride = kernel, a patch embedding, or one window, as a DCGAN discriminator's last\n"
            "layer, 2.6x faster than lax's) the patches are a reshape and the convolution\n"
            "one matmul. Lax's convolution everywhere else, and on GPU. (Computing only the derivative as\n"
            "that matmul at 4-64 channels was 1.1-1.4x faster per layer alone and 1.5-3x slower inside\n"
            "ResNet-18 and LeNet-5: not used. At 32 features the matmul is faster alone and slower followed by\n"
            "a 3x3 conv: moving its features-major result to the next layer's NHWC costs more than it saves;\n"
            "SimpleCNN's train step at 8x was 1.1 of PyTorch with it, 0.88 without. Hence 16.)"
        ),
        example=Example(
            torch="self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)",
            flax="self.conv1 = nn.Conv(16, kernel_size=(3, 3), padding=1, conv_general_dilated=conv_for_cpu)  # input NHWC",
        ),
        fidelity=(
            "Equal within float32 tolerance (measured: Conv2d k3p1 output 7.2e-7, dW relative 6e-7;\n"
            "groups, depthwise, dilation and 'same' all <= 7.4e-7 relative; the depthwise multiply-adds\n"
            "and the few-channel matmul sum the taps in another order, within the same float32 floor)."
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
        support = ()
        if may_run_other_than_lax(ctx):
            keywords["conv_general_dilated"] = cst.Name(CONV_NAME)
            support = ((CONV_NAME, CONV_FOR_CPU),)
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
                    *((CONV_NOTE,) if support else ()),
                ),
                support=support,
            )
        return LayerBuild(
            call("nn.Conv", [ctx.expr("out_channels")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=(f"Conv{n}d -> nn.Conv on channels-last input; kernel = weight permuted to [*k, in, out]",
                   *((CONV_NOTE,) if support else ())),
            support=support,
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
