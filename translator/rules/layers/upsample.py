"""L016 TorchInterpolate: ``F.interpolate``, ``nn.Upsample``, ``nn.UpsamplingNearest2d/Bilinear2d``."""

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

LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
#: module class -> fixed (mode, align_corners), None = read from the arguments
LAYERS = {
    torch.nn.Upsample: None,
    torch.nn.UpsamplingNearest2d: ("nearest", None),
    torch.nn.UpsamplingBilinear2d: ("bilinear", True),
}


def _interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None, antialias=False): ...


def interpolate(ctx, size, scale, mode, align, recompute, antialias) -> Emitted:
    x_in = ctx.expr("input")
    if NotLiteral in (size, scale, mode, align, recompute, antialias):
        ctx.unsupported("`size`, `scale_factor`, `mode`, `align_corners` and `recompute_scale_factor` must be constants")
        return Emitted(x_in)
    if mode not in ("nearest", "nearest-exact", *LINEAR):
        ctx.unsupported(f"mode={mode!r} is not translated yet (bicubic needs Keys A=-0.75 weights, PITFALLS 1)")
        return Emitted(x_in)
    if antialias:
        ctx.unsupported("`antialias=True` is not translated yet")
        return Emitted(x_in)
    if (size is None) == (scale is None):
        ctx.unsupported("exactly one of `size` and `scale_factor` must be given")
        return Emitted(x_in)
    fact = ctx.fact("input")
    k = LINEAR.get(mode)
    for given in (size, scale):
        if isinstance(given, (tuple, list)):
            k = len(given)
    if fact.channels_last:
        k = fact.rank - 2
    nhwc = fact.channels_last
    x_expr = ctx.expr("input") if nhwc else ctx.plain("input")

    def body(x: str) -> str:
        spatial = f"{x}.shape[1:-1]" if nhwc else f"{x}.shape[2:]"
        first = 1 if nhwc else 2
        # the output size of each axis, as an expression of that axis' input size n
        if size is not None:
            outs = [str(o) for o in (size if isinstance(size, (tuple, list)) else [size] * (k or 1))]
        factors = list(scale) if isinstance(scale, (tuple, list)) else [scale] * (k or 1)
        if size is None:
            outs = [f"n * {f}" if isinstance(f, int) else f"int(n * {f!r})" for f in factors]
        # the source step: in/out when the size is given (or recomputed), else 1 / scale_factor (float32, as PyTorch)
        by_size = size is not None or recompute
        step = "jnp.float32(n) / o" if by_size else "jnp.float32(1 / sf)"
        names = "n, o" if by_size else "n, o, sf"
        if k is None:  # nearest on a plain input of unknown rank: the same rule on every trailing axis
            axes = f"[({names}) for n in {spatial}]".replace("(n, o", f"(n, {outs[0]}").replace(", sf)", f", {factors[0]!r})")
        else:
            sized = [o.replace("n *", f"{x}.shape[{first + a}] *") for a, o in enumerate(outs)]
            axes = f"zip({spatial}, [{', '.join(sized)}])" if by_size else f"zip({spatial}, [{', '.join(sized)}], {factors!r})"
        loop = f"for {names} in {axes}"
        if mode.startswith("nearest"):
            source = "jnp.arange(o)" if mode == "nearest" else "(jnp.arange(o) + 0.5)"
            index = f"jnp.minimum(jnp.floor({source} * {step}).astype(jnp.int32), n - 1)"
            if mode == "nearest" and not by_size:  # PyTorch copies when o == n and halves when o == 2n
                index = f"(jnp.arange(o) * n // o if o in (n, 2 * n) else {index})"
            picks = f"jnp.ix_(*[{index} {loop}])"
            return f"{x}[(slice(None), *{picks}, slice(None))]" if nhwc else f"{x}[(..., *{picks})]"
        if not align and (by_size or all(float(f).is_integer() and f >= 1 for f in factors)):
            # the centre-aligned grid of jax.image.resize; antialias=False or downsampling blurs (PITFALLS 1: 0.94)
            shape = f"*[o {loop}]" if k is None else ", ".join(sized)
            full = f"({x}.shape[0], {shape}, {x}.shape[-1])" if nhwc else f"({x}.shape[0], {x}.shape[1], {shape})"
            return f"jax.image.resize({x}, {full}, 'linear', antialias=False)"
        # linear weights as a matrix per axis: a tent at the clamped source coordinate of each output
        if align:
            source = "jnp.arange(o) * jnp.float32((n - 1) / max(o - 1, 1))"
        else:
            source = f"(jnp.arange(o) + 0.5) * {step} - 0.5"
        weights = f"jnp.maximum(0.0, 1.0 - jnp.abs(jnp.clip({source}, 0, n - 1)[:, None] - jnp.arange(n)))"
        letters = "dhw"[3 - k:]
        inputs = f"n{letters}c" if nhwc else f"nc{letters}"
        outputs = inputs.replace(letters, letters.upper())
        matrices = ",".join(f"{big}{small}" for big, small in zip(letters.upper(), letters))
        return f"jnp.einsum('{inputs},{matrices}->{outputs}', {x}, *[{weights} {loop}])"

    return Emitted(bind(x_expr, body), channels_last(fact.rank) if nhwc else fact)


@register
class TorchInterpolate(Rule):
    code = "L016"
    name = "TorchInterpolate"
    summary = "F.interpolate / nn.Upsample -> index gather (nearest), jax.image.resize or a tent-weight matrix (linear)"
    torch_classes = ("torch.nn.Upsample", "torch.nn.UpsamplingNearest2d", "torch.nn.UpsamplingBilinear2d")
    torch_functions = ("torch.nn.functional.interpolate",)
    call_signature = signature_of(_interpolate)
    doc = RuleDoc(
        what=(
            "`F.interpolate(x, size | scale_factor, mode, align_corners, recompute_scale_factor)` and\n"
            "`nn.Upsample`, `nn.UpsamplingNearest2d`, `nn.UpsamplingBilinear2d`; modes nearest,\n"
            "nearest-exact, linear, bilinear, trilinear; integer and non-integer ratios."
        ),
        why=(
            "PyTorch's 'nearest' takes source floor(o * in/out), or floor(o / scale_factor) when a scale\n"
            "factor is given, computed in float32; `jax.image.resize('nearest')` rounds to the nearest\n"
            "centre instead (10->7: 4.73; scale 1.5: 3.78), so the indices are written out and gathered.\n"
            "Bilinear with align_corners=False samples at (o + 0.5) * scale - 0.5, which is\n"
            "`jax.image.resize('linear', antialias=False)` when scale = in/out; resize's default\n"
            "antialias=True blurs when downsampling (0.94). With a non-integer scale_factor PyTorch uses\n"
            "1/scale_factor, not in/out (1.39), and align_corners=True maps the corners (o * (in-1)/(out-1);\n"
            "resize gives 1.0): both are written as a per-axis matrix of linear weights at the clamped\n"
            "source coordinate, applied with einsum (PITFALLS 1 interpolate rows; 2.11)."
        ),
        example=Example(
            torch="x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)",
            flax="x = jax.image.resize(x, (x.shape[0], x.shape[1], x.shape[2] * 2, x.shape[3] * 2), 'linear', antialias=False)",
        ),
        fidelity=(
            "Nearest: exact (0). Linear: equal within float32 tolerance (PITFALLS measured resize x2\n"
            "2.4e-7 / 7.2e-7, 10->7 3.6e-7; weight matrix for align_corners=True 1.3e-6 / 1.9e-6)."
        ),
    )

    def build_layer(self, ctx):
        fixed = LAYERS[ctx.target]
        size, scale = literal_or_none(ctx, "size"), literal_or_none(ctx, "scale_factor")
        if fixed is None:
            mode, align = literal_or_none(ctx, "mode"), literal_or_none(ctx, "align_corners")
            recompute = literal_or_none(ctx, "recompute_scale_factor")
        else:
            (mode, align), recompute = fixed, None
        return LayerBuild(
            None,
            CallSpec(accepts="any", produces="same"),
            inline=lambda call_ctx: interpolate(call_ctx, size, scale, mode, align, recompute, False),
        )

    def emit_call(self, ctx):
        names = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
        return interpolate(ctx, *(literal_or_none(ctx, name) for name in names))

    def cases(self):
        @st.composite
        def interpolate_case(draw):
            # first values are the traps: non-integer ratios, align_corners=True, downsampling
            mode = draw(st.sampled_from(["bilinear", "nearest", "linear", "nearest-exact"]))
            n = LINEAR.get(mode) or draw(st.sampled_from([2, 1]))
            spatial = tuple(draw(st.integers(2, 7)) for _ in range(n))
            shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)
            if draw(st.sampled_from([False, True])):
                factor = draw(st.sampled_from([1.5, 2, 0.5, 0.7, 3, 2.5]))
                how = f"scale_factor={factor!r}"
                if draw(st.sampled_from([False, True])):
                    how += ", recompute_scale_factor=True"
            else:
                out = tuple(draw(st.integers(1, 12)) for _ in range(n))
                how = f"size={out if n > 1 else out[0]!r}"
            align = ""
            if mode in LINEAR:
                align = f", align_corners={draw(st.sampled_from([True, False]))}"
            after_conv = draw(st.booleans())  # channels-last input
            if after_conv:
                return RuleCase(f"nn.Conv{n}d({shape[1]}, {shape[1]}, 1)", f"F.interpolate(self.layer(x), {how}, mode={mode!r}{align})", shape)
            form = draw(st.sampled_from(["function", "Upsample", "named"]))
            if form == "function":
                return RuleCase(None, f"F.interpolate(x, {how}, mode={mode!r}{align})", shape)
            if form == "named" and n == 2 and mode in ("nearest", "bilinear") and "recompute" not in how:
                name = "UpsamplingNearest2d" if mode == "nearest" else "UpsamplingBilinear2d"
                return RuleCase(f"nn.{name}({how})", "self.layer(x)", shape)
            return RuleCase(f"nn.Upsample({how}, mode={mode!r}{align})", "self.layer(x)", shape)

        return interpolate_case()
