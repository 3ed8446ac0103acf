"""T058 TorchFunctionalConv: ``F.conv1d/2d/3d(x, weight, bias, stride, padding, dilation, groups)`` -> ``torch_conv``."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...


SUPPORT_NAME = "torch_conv"
SUPPORT = '''
def torch_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """F.conv1d/2d/3d (T058) in PyTorch's layout: x is (N, C, *spatial), weight (O, C // groups, *kernel)."""
    n = weight.ndim - 2

    def per_axis(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n

    pad = padding.upper() if isinstance(padding, str) else [(p, p) for p in per_axis(padding)]
    spatial = "DHW"[3 - n:]
    y = jax.lax.conv_general_dilated(
        x, weight, per_axis(stride), pad, rhs_dilation=per_axis(dilation),
        dimension_numbers=("NC" + spatial, "OI" + spatial, "NC" + spatial), feature_group_count=groups,
    )
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * n)
    return y
'''


@register
class TorchFunctionalConv(Rule):
    code = "T058"
    name = "TorchFunctionalConv"
    summary = "F.conv1d/conv2d/conv3d(x, weight, ...) -> torch_conv: lax.conv_general_dilated in PyTorch's layout"
    torch_functions = ("torch.nn.functional.conv1d", "torch.nn.functional.conv2d", "torch.nn.functional.conv3d",
                       "torch.conv1d", "torch.conv2d", "torch.conv3d")
    call_signature = signature_of(_conv)
    doc = RuleDoc(
        what=(
            "`F.conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)` (and 1d/3d) with a\n"
            "weight the code computes itself: a blur or FIR kernel (diffusers' FirUpsample2D), a\n"
            "Sobel filter, a weight-normalised kernel."
        ),
        why=(
            "`nn.Conv` owns its kernel; a functional convolution with the caller's weight is\n"
            "`jax.lax.conv_general_dilated`. `torch_conv` keeps PyTorch's layouts on both operands\n"
            "(`dimension_numbers=('NCHW', 'OIHW', 'NCHW')`): no transpose of the weight, which stays as the\n"
            "code built it; XLA picks its own internal layout. Padding is symmetric per axis as in\n"
            "PyTorch (`'same'`/`'valid'` map to lax's), `groups` is `feature_group_count`, and the bias is\n"
            "added per channel."
        ),
        example=Example(
            torch="y = F.conv2d(x, kernel, padding=1, groups=channels)",
            flax="y = torch_conv(x, kernel, padding=1, groups=channels)  # support function at the end of the file",
        ),
        fidelity="Equal within float32 tolerance (the same products, summed in another order); gradients too.",
    )

    def emit_call(self, ctx) -> Emitted:
        ctx.support(SUPPORT_NAME, SUPPORT)
        args = [code(ctx, "input"), code(ctx, "weight")]
        if not ctx.is_default("bias"):
            args.append(f"bias={code(ctx, 'bias')}")
        for name in ("stride", "padding", "dilation", "groups"):
            if not ctx.is_default(name):
                args.append(f"{name}={code_of(ctx.expr(name))}")
        return emit(f"{SUPPORT_NAME}({', '.join(args)})")

    def cases(self):
        @st.composite
        def conv_case(draw):
            rank = draw(st.integers(1, 3))
            groups = draw(st.integers(1, 2))
            channels_in, channels_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
            kernel = draw(st.integers(1, 3))
            stride, dilation = draw(st.integers(1, 2)), draw(st.integers(1, 2))
            padding = draw(st.sampled_from(["0", "1", repr(tuple([1] * rank)), "'same'" if stride == 1 else "0", "'valid'"]))
            size = dilation * (kernel - 1) + 1 + draw(st.integers(0, 3))
            shape = (2, channels_in, *([size] * rank))
            weight_shape = (channels_out, channels_in // groups, *([kernel] * rank))
            weight = f"torch.linspace(-1.0, 1.0, {math.prod(weight_shape)}, dtype=x.dtype).reshape{weight_shape!r}"
            bias = draw(st.sampled_from(["", f", bias=torch.linspace(0.0, 1.0, {channels_out}, dtype=x.dtype)"]))
            extra = f", stride={stride}, padding={padding}, dilation={dilation}, groups={groups}"
            function = draw(st.sampled_from([f"F.conv{rank}d", f"torch.conv{rank}d"]))
            if draw(st.booleans()) and rank == 2:  # the input arrives channels-last from a layer and goes back first
                return RuleCase(f"nn.Conv2d({channels_in}, {channels_in}, 1)", f"{function}(self.layer(x), {weight}{bias}{extra})", shape)
            return RuleCase(None, f"{function}(x, {weight}{bias}{extra})", shape)

        return conv_case()
