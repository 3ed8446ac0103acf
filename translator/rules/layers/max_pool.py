"""L010 TorchMaxPool: ``nn.MaxPool1d/2d/3d`` and ``F.max_pool{1,2,3}d`` -> ``nn.max_pool`` on NHWC."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none, ntuple
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    Rule,
    RuleCase,
    RuleDoc,
    channels_last,
    signature_of,
)
from translator.rules.registry import register

SPATIAL_DIMS = {
    torch.nn.MaxPool1d: 1, torch.nn.MaxPool2d: 2, torch.nn.MaxPool3d: 3,
    torch.nn.functional.max_pool1d: 1, torch.nn.functional.max_pool2d: 2, torch.nn.functional.max_pool3d: 3,
}


def _max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False): ...


def pool_keywords(ctx, n: int) -> dict[str, cst.BaseExpression] | None:
    """``window_shape``/``strides``/``padding`` for nn.max_pool; None (and a diagnostic) if untranslatable."""
    if literal_or_none(ctx, "dilation") not in (1, (1,) * n):
        ctx.unsupported("`dilation` is not translated yet (lax.reduce_window's gradient does not support it)")
        return None
    if literal_or_none(ctx, "ceil_mode") is not False:
        ctx.unsupported("`ceil_mode=True` is not translated yet")
        return None
    if literal_or_none(ctx, "return_indices") is not False:
        ctx.unsupported("`return_indices=True` has no Flax equivalent")
        return None
    keywords = {"window_shape": ntuple(ctx, "kernel_size", n)}
    stride = literal_or_none(ctx, "stride")
    # PyTorch's stride defaults to the kernel size, Flax's to 1.
    keywords["strides"] = ntuple(ctx, "kernel_size" if stride is None or stride == () else "stride", n)
    padding = literal_or_none(ctx, "padding")
    if isinstance(padding, int) and padding:
        padding = (padding,) * n
    if isinstance(padding, (tuple, list)) and any(padding):
        keywords["padding"] = cst.parse_expression(repr(tuple((p, p) for p in padding)))
    elif not isinstance(padding, (int, tuple, list)):
        ctx.unsupported("`padding` must be a constant to be written as Flax (low, high) pairs")
        return None
    return keywords


@register
class TorchMaxPool(Rule):
    code = "L010"
    name = "TorchMaxPool"
    summary = "nn.MaxPool{1,2,3}d / F.max_pool{1,2,3}d -> nn.max_pool on NHWC, strides written out"
    torch_classes = ("torch.nn.MaxPool1d", "torch.nn.MaxPool2d", "torch.nn.MaxPool3d")
    torch_functions = (
        "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d", "torch.nn.functional.max_pool3d",
    )
    call_signature = signature_of(_max_pool)
    doc = RuleDoc(
        what="`nn.MaxPool2d(kernel_size, stride=None, padding=0)` and `F.max_pool2d`, 1-D/3-D alike.",
        why=(
            "Flax pools are functions on channels-last input, not layers. PyTorch's stride defaults to\n"
            "the kernel size, Flax's to 1: leaving it out gives a 15x15 output instead of 8x8. Both pad\n"
            "with -inf, so explicit padding carries over as (p, p) pairs."
        ),
        example=Example(
            torch="self.pool = nn.MaxPool2d(2)\nx = self.pool(x)",
            flax="self.pool = partial(nn.max_pool, window_shape=(2, 2), strides=(2, 2))\nx = self.pool(x)",
        ),
        fidelity="Exact: outputs and gradients identical, including ties (measured 0 / 0).",
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        keywords = pool_keywords(ctx, n)
        if keywords is None:
            return LayerBuild(cst.Name("None"), CallSpec())
        return LayerBuild(
            call("partial", [cst.parse_expression("nn.max_pool")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=("MaxPool -> nn.max_pool: a function in Flax; PyTorch's stride defaults to the kernel size",),
        )

    def emit_call(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        keywords = pool_keywords(ctx, n)
        if keywords is None:
            return Emitted(cst.Name("None"))
        ctx.note("F.max_pool -> nn.max_pool on channels-last input; stride defaults to the kernel size")
        return Emitted(call("nn.max_pool", [ctx.channels_last("input", n + 2)], keywords), channels_last(n + 2))

    def cases(self):
        @st.composite
        def pool_case(draw):
            n = draw(st.sampled_from([1, 2]))
            kernel = draw(st.integers(1, 3))
            stride = draw(st.sampled_from([None, 1, 2]))
            padding = draw(st.integers(0, kernel // 2))
            size = kernel + draw(st.integers(0, 6))
            functional = draw(st.booleans())
            args = f"{kernel}, stride={stride}, padding={padding}"
            if functional:
                return RuleCase(None, f"F.max_pool{n}d(x, {args})", (2, 3, *(size,) * n))
            return RuleCase(f"nn.MaxPool{n}d({args})", "self.layer(x)", (2, 3, *(size,) * n))

        return pool_case()
