"""L057 TorchFold: ``nn.Fold`` / ``F.fold`` (col2im) -> ``torch_fold``: the transpose of ``torch_unfold``."""

from __future__ import annotations

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
from translator.rules.layers.unfold import GEOMETRY, draw_block_geometry, geometry_keywords
from translator.rules.layers.unfold import SUPPORT as UNFOLD_SUPPORT
from translator.rules.layers.unfold import SUPPORT_NAME as UNFOLD_NAME
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1): ...


SUPPORT_NAME = "torch_fold"
SUPPORT = '''
def torch_fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold / nn.Fold (rule L057): (N, C * kh * kw, L) -> (N, C, H, W), or unbatched (C * kh * kw, L) -> (C, H, W).

    Fold is the transpose of unfold: each column entry is added back at the pixel torch_unfold
    took it from, so overlapping blocks sum and the padding is dropped. jax.linear_transpose
    derives it from torch_unfold (a strided slice transposes to a scatter-add into zeros)."""
    def pair(value):
        return tuple(value) if isinstance(value, (tuple, list)) else (value, value)

    (h, w), (kh, kw) = pair(output_size), pair(kernel_size)
    channels, remainder = divmod(x.shape[-2], kh * kw)
    if remainder:
        raise ValueError(f"fold: {x.shape[-2]} rows are not a multiple of the {kh}x{kw} kernel's {kh * kw} entries")
    image = jax.ShapeDtypeStruct((*x.shape[:-2], channels, h, w), x.dtype)
    (folded,) = jax.linear_transpose(lambda y: torch_unfold(y, kernel_size, dilation, padding, stride), image)(x)
    return folded
'''


def supports(ctx) -> None:
    ctx.support(UNFOLD_NAME, UNFOLD_SUPPORT)
    ctx.support(SUPPORT_NAME, SUPPORT)


@register
class TorchFold(Rule):
    code = "L057"
    name = "TorchFold"
    summary = "nn.Fold / F.fold (col2im, overlap-add) -> torch_fold: jax.linear_transpose of torch_unfold"
    torch_classes = ("torch.nn.Fold",)
    torch_functions = ("torch.nn.functional.fold",)
    call_signature = signature_of(_fold)
    doc = RuleDoc(
        what=(
            "`nn.Fold(output_size, kernel_size, dilation=1, padding=0, stride=1)` and `F.fold(x, output_size,\n"
            "kernel_size, ...)` on (N, C * kh * kw, L) or unbatched (C * kh * kw, L) columns: the blocks\n"
            "put back into an (N, C, H, W) image, overlapping entries summed (overlap-add, col2im)."
        ),
        why=(
            "Flax has no Fold layer. Fold is not unfold's inverse but its transpose (adjoint): where\n"
            "blocks overlap their entries add up, so `F.fold(F.unfold(x))` is x times the number of blocks\n"
            "covering each pixel. JAX builds exactly that map from the forward one: `jax.linear_transpose`\n"
            "of `torch_unfold` (L056) turns each strided slice into a scatter-add into zeros and drops\n"
            "the padding, with PyTorch's (channel, kernel row, kernel column) order by construction.\n"
            "The columns and the image are in PyTorch's layout."
        ),
        example=Example(
            torch="self.fold = nn.Fold(output_size=(8, 8), kernel_size=4, stride=2)\nimage = self.fold(columns)",
            flax=(
                "self.fold = partial(torch_fold, output_size=(8, 8), kernel_size=4, stride=2)  # support functions at the end\n"
                "image = self.fold(columns)"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance (overlapping entries are summed, perhaps in another order);\n"
            "exact where blocks do not overlap. Floating-point inputs only, as in PyTorch."
        ),
    )

    def build_layer(self, ctx):
        keywords = {"output_size": ctx.expr("output_size"), "kernel_size": ctx.expr("kernel_size")}
        keywords.update({name: ctx.expr(name) for name in GEOMETRY if not ctx.is_default(name)})
        return LayerBuild(
            call("partial", [cst.Name(SUPPORT_NAME)], keywords),
            CallSpec(accepts="plain", produces="plain"),
            notes=("Fold -> torch_fold: the transpose of torch_unfold, overlapping entries summed",),
            support=((UNFOLD_NAME, UNFOLD_SUPPORT), (SUPPORT_NAME, SUPPORT)),
        )

    def emit_call(self, ctx) -> Emitted:
        supports(ctx)
        args = [code(ctx, "input"), code_of(ctx.expr("output_size")), code_of(ctx.expr("kernel_size")), *geometry_keywords(ctx)]
        return emit(f"{SUPPORT_NAME}({', '.join(args)})")

    def cases(self):
        @st.composite
        def fold_case(draw):
            drawn = draw_block_geometry(draw)
            kernel, dilation, padding, stride, output = drawn.kernel, drawn.dilation, drawn.padding, drawn.stride, drawn.image
            blocks = 1
            for n, k, d, p, s in zip(output, kernel, dilation, padding, stride):
                blocks *= (n + 2 * p - d * (k - 1) - 1) // s + 1
            channels = draw(st.integers(1, 3))
            geometry = drawn.arguments
            arguments = ", ".join([drawn.size_argument(output), *geometry])
            form = draw(st.sampled_from(["layer", "function", "round_trip", "unbatched"]))
            columns = (2, channels * kernel[0] * kernel[1], blocks)
            if form == "layer":
                return RuleCase(f"nn.Fold({arguments})", "self.layer(x)", columns)
            if form == "unbatched":
                return RuleCase(None, f"F.fold(x, {arguments})", columns[1:])
            if form == "function":
                return RuleCase(None, f"F.fold(x, {arguments})", columns)
            # overlap-add of an image's own blocks: each pixel times the number of blocks covering it
            geometry_only = ", ".join(geometry)
            return RuleCase(None, f"F.fold(F.unfold(x, {geometry_only}), {drawn.size_argument(output)}, {geometry_only})", (2, channels, *output))

        return fold_case()
