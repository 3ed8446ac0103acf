"""L056 TorchUnfold: ``nn.Unfold`` / ``F.unfold`` (im2col) -> ``torch_unfold``: strided slices in PyTorch's order."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import call, code_of
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _unfold(input, kernel_size, dilation=1, padding=0, stride=1): ...


#: the window geometry arguments after the kernel size, in PyTorch's order (their defaults are 1, 0, 1)
GEOMETRY = ("dilation", "padding", "stride")

SUPPORT_NAME = "torch_unfold"
SUPPORT = '''
def torch_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold / nn.Unfold (rule L056): (N, C, H, W) -> (N, C * kh * kw, L), or unbatched (C, H, W) -> (C * kh * kw, L).

    PyTorch's order: the channel, then the kernel row, then the kernel column, each window's L
    positions row-major. Each kernel row, then each kernel column, is one strided slice of the
    zero-padded input: values are moved, never multiplied, so every dtype is exact and an inf or
    nan stays in the patches that contain it."""
    def pair(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (pair(v) for v in (kernel_size, dilation, padding, stride))
    batched = x.ndim == 4
    x = jnp.pad(x if batched else x[None], ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, w = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"unfold: a {kh}x{kw} kernel with dilation ({dh}, {dw}) does not fit the padded {h}x{w} input")
    rows = jnp.stack([x[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh] for i in range(kh)], axis=2)  # (N, C, kh, oh, W)
    patches = jnp.stack([rows[..., j * dw:j * dw + (ow - 1) * sw + 1:sw] for j in range(kw)], axis=3)  # (N, C, kh, kw, oh, ow)
    patches = patches.reshape(n, c * kh * kw, oh * ow)
    return patches if batched else patches[0]
'''


def geometry_keywords(ctx) -> list[str]:
    """``name=<code>`` for each geometry argument the call or constructor gives."""
    return [f"{name}={code_of(ctx.expr(name))}" for name in GEOMETRY if not ctx.is_default(name)]


@register
class TorchUnfold(Rule):
    code = "L056"
    name = "TorchUnfold"
    summary = "nn.Unfold / F.unfold (sliding blocks, im2col) -> torch_unfold: strided slices, PyTorch's (C, kh, kw) order"
    torch_classes = ("torch.nn.Unfold",)
    torch_functions = ("torch.nn.functional.unfold",)
    call_signature = signature_of(_unfold)
    doc = RuleDoc(
        what=(
            "`nn.Unfold(kernel_size, dilation=1, padding=0, stride=1)` and `F.unfold(x, kernel_size, ...)` on\n"
            "(N, C, H, W) or unbatched (C, H, W) input: every kernel-sized block of the image, flattened to a\n"
            "column, giving (N, C * kh * kw, L) with L the number of blocks (PiT's and T2T-ViT's patch\n"
            "embedding: `nn.Unfold(kernel_size=patch_size, stride=patch_size // 2)` then a Linear).\n"
            "Not the tensor method `x.unfold(dim, size, step)`: that is T060, a 1-D sliding window."
        ),
        why=(
            "Flax has no Unfold layer. The result is a tensor in PyTorch's own layout, not an image:\n"
            "its C * kh * kw rows are channel-major (channel, then kernel row, then kernel column) and its\n"
            "L columns walk the blocks row-major, which the Linear after it relies on. `torch_unfold`\n"
            "zero-pads, takes one strided slice per kernel row and then per kernel column, and reshapes:\n"
            "the same order, for any kernel, dilation, padding and stride. An input that arrives\n"
            "channels-last (after a convolution) is transposed back first: the result is PyTorch's layout.\n"
            "`jax.lax.conv_general_dilated_patches` gives the same order for PyTorch's layout, but it is a\n"
            "convolution with a one-hot kernel: an inf becomes nan in its neighbours' patches (inf * 0),\n"
            "and at default precision a TPU rounds the values to bfloat16 (a GPU may use TF32)."
        ),
        example=Example(
            torch="self.unfold = nn.Unfold(kernel_size=4, stride=2)\npatches = self.unfold(x)",
            flax=(
                "self.unfold = partial(torch_unfold, kernel_size=4, stride=2)  # support function at the end of the file\n"
                "patches = self.unfold(x)  # (N, C * 16, L): channel-major rows, as PyTorch"
            ),
        ),
        fidelity="Exact: slices and reshapes move values without arithmetic; the gradient (a sum over overlaps) is float32-close.",
    )

    def build_layer(self, ctx):
        keywords = {"kernel_size": ctx.expr("kernel_size")}
        keywords.update({name: ctx.expr(name) for name in GEOMETRY if not ctx.is_default(name)})
        return LayerBuild(
            call("partial", [cst.Name(SUPPORT_NAME)], keywords),
            CallSpec(accepts="plain", produces="plain"),
            notes=("Unfold -> torch_unfold: blocks as (N, C * kh * kw, L) columns in PyTorch's channel-major order",),
            support=((SUPPORT_NAME, SUPPORT),),
        )

    def emit_call(self, ctx) -> Emitted:
        ctx.support(SUPPORT_NAME, SUPPORT)
        args = [code(ctx, "input"), code_of(ctx.expr("kernel_size")), *geometry_keywords(ctx)]
        return emit(f"{SUPPORT_NAME}({', '.join(args)})")

    def cases(self):
        @st.composite
        def unfold_case(draw):
            geometry = draw_block_geometry(draw)
            size = geometry.image
            channels = draw(st.integers(1, 3))
            batched = draw(st.booleans())
            shape = (2, channels, *size) if batched else (channels, *size)
            arguments = geometry.arguments
            form = draw(st.sampled_from(["layer", "function", "after_conv", "sequential"] if batched else ["layer", "function"]))
            if form == "layer":
                return RuleCase(f"nn.Unfold({', '.join(arguments)})", "self.layer(x)", shape)
            if form == "function":
                return RuleCase(None, f"F.unfold(x, {', '.join(arguments)})", shape)
            conv = f"nn.Conv2d({channels}, {channels}, 1)"  # its output is channels-last: unfold takes it back
            if form == "after_conv":
                return RuleCase(conv, f"F.unfold(self.layer(x), {', '.join(arguments)})", shape)
            return RuleCase(f"nn.Sequential({conv}, nn.Unfold({', '.join(arguments)}))", "self.layer(x).transpose(1, 2)", shape)

        return unfold_case()


@dataclass(frozen=True)
class BlockGeometry:
    """A drawn unfold/fold configuration: each side of ``image`` fits the dilated kernel after padding, with
    up to 4 more cells; ``arguments`` spell it as the layer's arguments (pairs or ints, defaults sometimes)."""

    kernel: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int]
    stride: tuple[int, int]
    image: tuple[int, int]
    arguments: list[str]
    size_argument: object


def draw_block_geometry(draw) -> BlockGeometry:
    """Draw a :class:`BlockGeometry` (used inside a ``st.composite`` strategy of L056 and L057)."""

    def size_argument(values: tuple[int, int]) -> str:
        return str(values[0]) if values[0] == values[1] and draw(st.booleans()) else repr(values)

    kernel, dilation, padding, stride = (tuple(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
                                         for low, high in ((1, 3), (1, 2), (0, 1), (1, 3)))
    image = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4)) for k, d, p in zip(kernel, dilation, padding))
    arguments = [size_argument(kernel)]
    for name, values, default in zip(GEOMETRY, (dilation, padding, stride), (1, 0, 1)):
        if values != (default, default) or draw(st.booleans()):
            arguments.append(f"{name}={size_argument(values)}")
    return BlockGeometry(kernel, dilation, padding, stride, image, arguments, size_argument)
