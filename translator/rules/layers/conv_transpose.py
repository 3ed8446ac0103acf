"""L015 TorchConvTranspose: ``nn.ConvTranspose1d/2d/3d`` -> ``nn.ConvTranspose(transpose_kernel=True)`` on NHWC
(``SubPixelConvTranspose`` when strided: the same layer, computed and differentiated by output phases)."""

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
from translator.rules.layers.conv import CONV_FOR_CPU, CONV_NAME
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY, conv_transpose_weight_to_kernel

SPATIAL_DIMS = {torch.nn.ConvTranspose1d: 1, torch.nn.ConvTranspose2d: 2, torch.nn.ConvTranspose3d: 3}

SUB_PIXEL_NAME = "SubPixelConvTranspose"
SUB_PIXEL = '''
class SubPixelConvTranspose(nn.Module):
    """``nn.ConvTranspose(..., transpose_kernel=True)`` computed by output phases (rule L015).

    The same parameters (``kernel`` [*kernel_size, features, in], ``bias``), arguments and result;
    run by ``conv_transpose_phases``: XLA's CPU gradient of the stride-dilated convolution
    nn.ConvTranspose runs is 5-30x slower than the phases' (DCGAN's k4 s2). Kernel = stride without
    padding (U-Net's up-convolution): one matmul.
    """

    features: int
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        shape = (*self.kernel_size, self.features, x.shape[-1])
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        geometry = list(zip(self.kernel_size, self.strides, self.padding))
        if all(k == s and lo == hi == k - 1 for k, s, (lo, hi) in geometry):
            # each output phase is one tap at offset 0: a matmul over channels, interleaved
            y = jnp.tensordot(x, kernel, axes=(-1, -1))  # N *Q *s C
            size = [m * s for m, s in zip(x.shape[1:-1], self.strides)]
            y = interleave_phases(y.reshape(*y.shape[:-1 - len(size)], -1, self.features), self.strides, size)
        else:
            y = conv_transpose_phases(x, kernel, tuple(self.strides), tuple(map(tuple, self.padding)))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def conv_transpose_phases(x, kernel, strides, padding):
    """``jax.lax.conv_transpose(..., transpose_kernel=True)`` on channels-last ``x`` (rule L015).

    Written by output phases: output row ``o = q * s + r`` meets only the taps ``t`` with
    ``(r + p - t) % s == 0`` (``p`` PyTorch's padding; ``padding`` here is nn.ConvTranspose's
    ``(k - 1 - p, k - 1 - p + output_padding)``), so each phase ``r`` is a stride-1 convolution of the
    input with those taps, and the phases interleave. On CPU at up to 32 input channels the forward
    and the derivative are ``conv_transpose_as_one_conv``, all the phases in one convolution;
    otherwise the forward is lax's and the derivative (linear in both arguments) one convolution
    per phase: XLA's CPU gradient of the stride-dilated convolution is 5-30x slower.
    """
    if jax.default_backend() == "cpu" and x.shape[-1] <= 32:
        return conv_transpose_as_one_conv(x, kernel, strides, padding)
    spatial = "DHW"[3 - len(strides) :]
    dimensions = (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
    return jax.lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=dimensions, transpose_kernel=True)


@conv_transpose_phases.defjvp
def conv_transpose_phases_jvp(strides, padding, primals, tangents):
    (x, kernel), (dx, dkernel) = primals, tangents

    def phases(x, kernel):
        n, batch, inputs = len(strides), x.shape[0], x.shape[1:-1]
        geometry = list(zip(inputs, kernel.shape[:n], strides, padding))
        p = [k - 1 - lo for _, k, _, (lo, _) in geometry]
        size = [(m - 1) * s + lo + hi - k + 2 for m, k, s, (lo, hi) in geometry]
        rows = [-(-o // s) for o, s in zip(size, strides)]
        spatial = "DHW"[3 - n :]
        dimensions = (f"N{spatial}C", f"{spatial}OI", f"N{spatial}C")
        ys = []
        for r in np.ndindex(*strides):
            # the phase's taps: first, first + s, ... along each axis
            first = [(ri + pi) % s for ri, pi, s in zip(r, p, strides)]
            taps = kernel[tuple(slice(f, None, s) for f, s in zip(first, strides))]
            if 0 in taps.shape:  # no tap reaches this phase (k < s)
                ys.append(jnp.zeros((batch, *rows, kernel.shape[-2]), x.dtype))
                continue
            pads = []
            for f, c, ri, pi, q, (m, _, s, _) in zip(first, taps.shape, r, p, rows, geometry):
                low = (f + s * (c - 1) - ri - pi) // s  # the last tap reads the lowest input offset
                pads.append((low, q + c - 1 - m - low))
            taps = jnp.flip(taps, tuple(range(n)))  # ascending input offsets
            ys.append(jax.lax.conv_general_dilated(x, taps, (1,) * n, pads, dimension_numbers=dimensions))
        return interleave_phases(jnp.stack(ys, axis=-2), strides, size)

    linear = phases
    if jax.default_backend() == "cpu" and x.shape[-1] <= 32:  # all the phases in one convolution
        linear = partial(conv_transpose_as_one_conv, strides=strides, padding=padding)
    return conv_transpose_phases(x, kernel, strides, padding), linear(dx, kernel) + linear(x, dkernel)


def conv_transpose_as_one_conv(x, kernel, strides, padding):
    """``jax.lax.conv_transpose(..., transpose_kernel=True)`` as one stride-1 convolution with s^n * out
    features, one group per output phase, interleaved (a sub-pixel convolution).

    Phase ``r`` of output row ``q * s + r`` reads input rows ``q + (r + p - t) // s`` with taps ``t``,
    ``(r + p - t) % s == 0``: every phase's kernel is laid over the union of those input offsets, zeros
    where a phase has no tap. At up to 32 input channels XLA's CPU runs it 1.2-3x faster than the
    stride-dilated convolution (more multiplies, by zeros, but wider outputs).
    """
    n = len(strides)
    size, taps, pads = [], [], []
    for m, k, s, (lo, hi) in zip(x.shape[1:-1], kernel.shape[:n], strides, padding):
        p = k - 1 - lo
        size.append((m - 1) * s + lo + hi - k + 2)
        reads = [(r, t, (r + p - t) // s) for r in range(s) for t in range(k) if (r + p - t) % s == 0]
        first, last = min(u for _, _, u in reads), max(u for _, _, u in reads)
        table = np.full((last - first + 1, s), k)  # [input offset, phase] -> tap; k: the zero tap
        for r, t, u in reads:
            table[u - first, r] = t
        taps.append(table)
        pads.append((-first, -(-size[-1] // s) + last - m))  # negative: rows no phase reads
    kernel = jnp.pad(kernel, [(0, 1)] * n + [(0, 0), (0, 0)])[np.ix_(*(t.reshape(-1) for t in taps))]
    kernel = kernel.reshape(*(d for t in taps for d in t.shape), *kernel.shape[-2:])  # U1 s1 U2 s2 .. out in
    order = [*range(0, 2 * n, 2), 2 * n + 1, *range(1, 2 * n, 2), 2 * n]  # U1 U2 .. in s1 s2 .. out
    kernel = kernel.transpose(order).reshape(*kernel.shape[:2 * n:2], x.shape[-1], -1)
    spatial = "DHW"[3 - n :]
    y = conv_for_cpu(x, kernel, (1,) * n, pads, dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"))
    return interleave_phases(y.reshape(*y.shape[:-1], int(np.prod(strides)), -1), strides, size)


def interleave_phases(y, strides, size):
    """(N, *Q, prod(s), C) phases -> (N, *size, C): output row q * s + r is phase r's row q."""
    n, rows = len(strides), y.shape[1 : len(strides) + 1]
    y = y.reshape(y.shape[0], *rows, *strides, y.shape[-1])
    order = [a for i in range(1, n + 1) for a in (i, n + i)]  # N Q1 s1 Q2 s2 .. C
    y = y.transpose(0, *order, 2 * n + 1)
    y = y.reshape(y.shape[0], *(q * s for q, s in zip(rows, strides)), y.shape[-1])
    return y[(slice(None), *(slice(0, o) for o in size))]
'''


@register
class TorchConvTranspose(Rule):
    code = "L015"
    name = "TorchConvTranspose"
    summary = (
        "nn.ConvTranspose{1,2,3}d -> nn.ConvTranspose(padding=(a, a + output_padding), a = d(k-1) - p, transpose_kernel=True);"
        " strided: SubPixelConvTranspose (computed and differentiated by output phases)"
    )
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
            "ConvTranspose2d). `groups > 1` has no `nn.ConvTranspose` field (PITFALLS 2.2).\n"
            "With a stride s > 1 (and no dilation) the layer is `SubPixelConvTranspose`, a small module\n"
            "with nn.ConvTranspose's arguments and parameters, computed by output phases\n"
            "(`conv_transpose_phases`, a `jax.custom_jvp`): output row o = q*s + r only meets the taps t\n"
            "with (r + padding - t) % s == 0, so each of the s^n phases is a stride-1 convolution of the\n"
            "input with those taps, and the phases interleave (kernel == stride without padding, UNet's\n"
            "up-convolution: one matmul over channels). XLA's CPU gradient of the stride-dilated\n"
            "convolution nn.ConvTranspose runs is 5-30x slower than the phases' (DCGAN's k4 s2: kernel\n"
            "gradient 1.1-2.1 ms vs 0.1-0.5 ms at batch 16 and 4-32 channels; 350-560 ms vs 18-22 ms at\n"
            "64-512 channels). At up to 32 input channels, on CPU, forward and derivative lay every\n"
            "phase's taps over the union of the input offsets they read (zeros elsewhere) and run one\n"
            "stride-1 convolution with s^n * out features (`conv_transpose_as_one_conv`, a sub-pixel\n"
            "convolution; few channels go to `conv_for_cpu`'s matmul): 1.2-3x faster than lax's forward\n"
            "and than the separate phases. Above 32 channels the forward is lax's and the derivative the\n"
            "separate phases. DCGAN's generator at 8x the catalogue batch: train step 1.24 -> 0.70 of\n"
            "PyTorch's, forward 1.16 -> 0.85 of torchax's."
        ),
        example=Example(
            torch="self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)",
            flax="self.up = SubPixelConvTranspose(8, kernel_size=(3, 3), strides=(2, 2), padding=((1, 2), (1, 2)))",
        ),
        fidelity=(
            "Equal within float32 tolerance (PITFALLS measured k3s2p1op1: 1.2e-7 / dx 3.6e-7, dW r 4.3e-7;\n"
            "k4s2p1, k5s3p2op2, dilation 2, 1-D and 3-D all <= 4.8e-7). SubPixelConvTranspose: the same\n"
            "forward; gradients by phases against nn.ConvTranspose's <= 3.8e-6 absolute at unit-scale values\n"
            "(kernel smaller than the stride, output_padding, 1-D to 3-D)."
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
        spec = CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last")
        if any(s != 1 for s in stride) and all(d == 1 for d in dilation):
            return LayerBuild(
                call(SUB_PIXEL_NAME, [ctx.expr("out_channels")], keywords),
                spec,
                notes=(
                    f"ConvTranspose with stride {stride} -> SubPixelConvTranspose: nn.ConvTranspose computed and differentiated "
                    "by output phases, stride-1 convolutions (XLA's CPU gradient of the stride-dilated one is slow); "
                    "its arguments and kernel [*k, out, in] are nn.ConvTranspose's with transpose_kernel=True, "
                    "padding (a, a + output_padding) with a = k-1 - padding",
                ),
                support=((SUB_PIXEL_NAME, SUB_PIXEL), (CONV_NAME, CONV_FOR_CPU)),
            )
        keywords["transpose_kernel"] = cst.Name("True")
        return LayerBuild(
            call("nn.ConvTranspose", [ctx.expr("out_channels")], keywords),
            spec,
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
