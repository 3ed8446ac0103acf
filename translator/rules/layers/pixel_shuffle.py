"""L013 TorchPixelShuffle: ``nn.PixelShuffle``/``nn.PixelUnshuffle`` and ``F.pixel_(un)shuffle`` -> reshapes."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    channels_last,
    signature_of,
)
from translator.rules.layers._spatial import bind
from translator.rules.registry import register

F = torch.nn.functional
#: torch object -> (shuffle?, name of the factor argument)
TARGETS = {
    torch.nn.PixelShuffle: (True, "upscale_factor"), F.pixel_shuffle: (True, "upscale_factor"),
    torch.nn.PixelUnshuffle: (False, "downscale_factor"), F.pixel_unshuffle: (False, "downscale_factor"),
}


def _pixel_shuffle(input, upscale_factor): ...


def shuffle_body(shuffle: bool, r: int, nhwc: bool):
    """The reshape-transpose-reshape of PITFALLS 1 (PixelShuffle), in NHWC or NCHW."""
    if nhwc and shuffle:  # (N, H, W, C r r) -> (N, H r, W r, C): channel index is c r r + i r + j
        return lambda x: (
            f"{x}.reshape({x}.shape[0], {x}.shape[1], {x}.shape[2], -1, {r}, {r}).transpose(0, 1, 4, 2, 5, 3)"
            f".reshape({x}.shape[0], {x}.shape[1] * {r}, {x}.shape[2] * {r}, -1)"
        )
    if nhwc:  # (N, H r, W r, C) -> (N, H, W, C r r)
        return lambda x: (
            f"{x}.reshape({x}.shape[0], {x}.shape[1] // {r}, {r}, {x}.shape[2] // {r}, {r}, -1)"
            f".transpose(0, 1, 3, 5, 2, 4).reshape({x}.shape[0], {x}.shape[1] // {r}, {x}.shape[2] // {r}, -1)"
        )
    if shuffle:  # (N, C r r, H, W) -> (N, C, H r, W r)
        return lambda x: (
            f"{x}.reshape({x}.shape[0], -1, {r}, {r}, {x}.shape[2], {x}.shape[3]).transpose(0, 1, 4, 2, 5, 3)"
            f".reshape({x}.shape[0], -1, {x}.shape[2] * {r}, {x}.shape[3] * {r})"
        )
    return lambda x: (
        f"{x}.reshape({x}.shape[0], {x}.shape[1], {x}.shape[2] // {r}, {r}, {x}.shape[3] // {r}, {r})"
        f".transpose(0, 1, 3, 5, 2, 4).reshape({x}.shape[0], -1, {x}.shape[2] // {r}, {x}.shape[3] // {r})"
    )


def emit(ctx, shuffle: bool, r) -> Emitted:
    if r is NotLiteral or not isinstance(r, int):
        ctx.unsupported("the factor must be a constant int")
        return Emitted(ctx.expr("input"))
    fact = ctx.fact("input")
    if fact.channels_last and fact.rank == 4:  # stay channels-last: no transpose around the shuffle
        return Emitted(bind(ctx.expr("input"), shuffle_body(shuffle, r, True)), channels_last(4))
    return Emitted(bind(ctx.plain("input"), shuffle_body(shuffle, r, False)))


@register
class TorchPixelShuffle(Rule):
    code = "L013"
    name = "TorchPixelShuffle"
    summary = "nn.PixelShuffle / PixelUnshuffle -> reshape + transpose in PyTorch's channel order (c, i, j)"
    torch_classes = ("torch.nn.PixelShuffle", "torch.nn.PixelUnshuffle")
    torch_functions = ("torch.nn.functional.pixel_shuffle", "torch.nn.functional.pixel_unshuffle")
    call_signature = signature_of(_pixel_shuffle)
    doc = RuleDoc(
        what="`nn.PixelShuffle(r)`, `nn.PixelUnshuffle(r)`, `F.pixel_shuffle`, `F.pixel_unshuffle` on 4-D input.",
        why=(
            "JAX has no pixel shuffle. PyTorch orders the C*r*r channels as (c, i, j): channel\n"
            "c*r*r + i*r + j goes to pixel (h*r + i, w*r + j). TensorFlow's `depth_to_space` uses (i, j, c)\n"
            "and scrambles the image (PITFALLS 1 PixelShuffle: 3.85). On channels-last values the rule\n"
            "reshapes (N, H, W, C, r, r) and transposes to (N, H, r, W, r, C), so no layout change is needed."
        ),
        example=Example(
            torch="self.shuffle = nn.PixelShuffle(2)\nx = self.shuffle(x)",
            flax=(
                "x = x.reshape(x.shape[0], -1, 2, 2, x.shape[2], x.shape[3]).transpose(0, 1, 4, 2, 5, 3)"
                ".reshape(x.shape[0], -1, x.shape[2] * 2, x.shape[3] * 2)  # NCHW; on NHWC the channel factors come last"
            ),
        ),
        fidelity="Exact: reshapes and transposes move values without arithmetic (measured 0 / 0).",
    )

    def build_layer(self, ctx):
        shuffle, factor = TARGETS[ctx.target]
        r = literal_or_none(ctx, factor)
        return LayerBuild(None, CallSpec(accepts="any", produces="same"), inline=lambda call_ctx: emit(call_ctx, shuffle, r))

    def emit_call(self, ctx):
        shuffle, _ = TARGETS[ctx.target]
        # one signature for both functions: the factor binds positionally (the usual spelling)
        return emit(ctx, shuffle, literal_or_none(ctx, "upscale_factor"))

    def cases(self):
        @st.composite
        def shuffle_case(draw):
            r = draw(st.sampled_from([2, 3, 1]))
            shuffle = draw(st.booleans())
            batch = draw(st.integers(1, 2))
            if shuffle:
                shape = (batch, draw(st.integers(1, 2)) * r * r, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
            else:
                shape = (batch, draw(st.integers(1, 3)), r * draw(st.integers(1, 3)), r * draw(st.integers(1, 3)))
            # after a convolution the input is channels-last: the shuffle must use the NHWC formula
            after_conv = draw(st.booleans())
            x = "self.layer(x)" if after_conv else "x"
            init = f"nn.Conv2d({shape[1]}, {shape[1]}, 1)" if after_conv else None
            kind = "shuffle" if shuffle else "unshuffle"
            if init is None and draw(st.booleans()):
                name = "PixelShuffle" if shuffle else "PixelUnshuffle"
                return RuleCase(f"nn.{name}({r})", "self.layer(x)", shape)
            return RuleCase(init, f"F.pixel_{kind}({x}, {r})", shape)

        return shuffle_case()
