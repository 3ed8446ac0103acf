"""L014 TorchPad: ``nn.ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad{1,2}d`` and ``F.pad``."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
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
    torch_dim_to_channels_last_axis,
)
from translator.rules.layers._spatial import bind
from translator.rules.registry import register

nn = torch.nn
#: torch padding layer -> (spatial dims it pads, PyTorch mode)
LAYERS = {
    nn.ZeroPad1d: (1, "constant"), nn.ZeroPad2d: (2, "constant"),
    nn.ConstantPad1d: (1, "constant"), nn.ConstantPad2d: (2, "constant"),
    nn.ReflectionPad1d: (1, "reflect"), nn.ReflectionPad2d: (2, "reflect"),
    nn.ReplicationPad1d: (1, "replicate"), nn.ReplicationPad2d: (2, "replicate"),
    nn.CircularPad1d: (1, "circular"), nn.CircularPad2d: (2, "circular"),
}
#: PyTorch mode -> jnp.pad mode ('symmetric' would repeat the edge: PITFALLS 1 F.pad, 3.78)
MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(input, pad, mode="constant", value=None): ...


def pad_expr(ctx, pad, mode, value, constructor: bool = False) -> Emitted:
    """``input`` padded by PyTorch's ``pad`` tuple, which starts at the LAST axis: (left, right, top, bottom, ...).

    ``constructor``: the call is in constructor code (``__init__``, a module-level helper), where
    values have no layout facts: the input is taken as written, in PyTorch's layout.
    """
    if NotLiteral in (pad, mode, value) or not isinstance(pad, (tuple, list)) or len(pad) % 2:
        ctx.unsupported("`pad`, `mode` and `value` must be constants (pad: an even-length tuple)")
        return Emitted(ctx.expr("input"))
    if mode not in MODES:
        ctx.unsupported(f"padding mode {mode!r} is not translated")
        return Emitted(ctx.expr("input"))
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]  # pairs[0] pads the last axis
    negative = any(p < 0 for pair in pairs for p in pair)
    if negative and mode != "constant":
        ctx.unsupported("negative padding is only defined for mode='constant'")
        return Emitted(ctx.expr("input"))
    fill = value if value not in (None, 0, 0.0) else None

    def padded(x: str, widths: str) -> str:
        if negative:  # jnp.pad cannot crop; lax.pad takes (low, high, interior) and crops when negative
            return f"jax.lax.pad({x}, jnp.asarray({fill or 0.0}, {x}.dtype), [(lo, hi, 0) for lo, hi in {widths}])"
        keywords = "" if mode == "constant" else f", mode={MODES[mode]!r}"
        if fill is not None:
            keywords += f", constant_values={fill!r}"
        return f"jnp.pad({x}, {widths}{keywords})"

    fact = None if constructor else ctx.fact("input")
    if fact is not None and fact.channels_last:  # remap PyTorch's axes to their channels-last positions; stay channels-last
        rank = fact.rank
        widths = [(0, 0)] * rank
        for k, pair in enumerate(pairs):
            widths[torch_dim_to_channels_last_axis(rank - 1 - k, rank)] = pair
        return Emitted(cst_of(padded(code_of(ctx.expr("input")), repr(tuple(widths)))), channels_last(rank))
    trailing = list(reversed(pairs))
    value = ctx.expr("input") if constructor else ctx.plain("input")
    return Emitted(bind(value, lambda x: padded(x, f"[(0, 0)] * ({x}.ndim - {len(pairs)}) + {trailing!r}")))


def cst_of(code: str):
    import libcst as cst

    return cst.parse_expression(code)


@register
class TorchPad(Rule):
    code = "L014"
    name = "TorchPad"
    summary = "F.pad and nn.*Pad{1,2}d -> jnp.pad, PyTorch's pad tuple read from the LAST axis"
    torch_classes = tuple(f"torch.nn.{layer.__name__}" for layer in LAYERS)
    torch_functions = ("torch.nn.functional.pad",)
    call_signature = signature_of(_pad)
    doc = RuleDoc(
        what=(
            "`F.pad(x, pad, mode, value)` and the layers ZeroPad1d/2d, ConstantPad1d/2d, ReflectionPad1d/2d,\n"
            "ReplicationPad1d/2d, CircularPad1d/2d (int or tuple padding)."
        ),
        why=(
            "PyTorch's pad tuple starts at the LAST axis, (left, right, top, bottom, ...); `jnp.pad` takes\n"
            "one (before, after) pair per axis in axis order. Reading the tuple in axis order pads the\n"
            "wrong axes (PITFALLS 1 F.pad: 3.27). Modes: reflect -> 'reflect' (not 'symmetric', which\n"
            "repeats the edge: 3.78), replicate -> 'edge', circular -> 'wrap'. Negative (cropping) constant\n"
            "pads go through `jax.lax.pad`. A channels-last input is padded on its remapped axes."
        ),
        example=Example(
            torch="x = F.pad(x, (1, 2, 3, 4), mode='reflect')",
            flax="x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(3, 4), (1, 2)], mode='reflect')",
        ),
        fidelity="Exact: padding copies values (measured 0 / <= 4.8e-7 for the summed gradients).",
    )

    def build_layer(self, ctx):
        if ctx.target not in LAYERS:  # F.pad in constructor code (a buffer, a positional table): a value, not a layer
            padded = pad_expr(ctx, literal_or_none(ctx, "pad"), literal_or_none(ctx, "mode"), literal_or_none(ctx, "value"), constructor=True)
            return LayerBuild(padded.expr, CallSpec(accepts="any", produces="same"))
        n, mode = LAYERS[ctx.target]
        padding = literal_or_none(ctx, "padding")
        if isinstance(padding, int):
            padding = (padding,) * (2 * n)
        value = literal_or_none(ctx, "value") if "value" in ctx.signature.parameters else None
        return LayerBuild(
            None,
            CallSpec(accepts="any", produces="same"),
            inline=lambda call_ctx: pad_expr(call_ctx, padding, mode, value),
        )

    def emit_call(self, ctx):
        return pad_expr(ctx, literal_or_none(ctx, "pad"), literal_or_none(ctx, "mode"), literal_or_none(ctx, "value"))

    def cases(self):
        @st.composite
        def pad_case(draw):
            n = draw(st.sampled_from([2, 1]))
            mode = draw(st.sampled_from(["reflect", "replicate", "circular", "constant"]))
            size = draw(st.integers(3, 6))
            low = 0 if mode == "constant" else None
            pads = tuple(draw(st.integers(-1 if low == 0 else 0, 2)) for _ in range(2 * n))
            shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *(draw(st.integers(size, size + 3)) for _ in range(n)))
            after_conv = draw(st.booleans())  # a channels-last input: the pads must be remapped
            x = "self.layer(x)" if after_conv else "x"
            init = f"nn.Conv{n}d({shape[1]}, {shape[1]}, 1)" if after_conv else None
            value = draw(st.sampled_from([0.0, 1.5]))
            if after_conv or draw(st.booleans()):
                extra = f", value={value}" if mode == "constant" else ""
                return RuleCase(init, f"F.pad({x}, {pads!r}, mode={mode!r}{extra})", shape)
            name = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}[mode]
            pads = tuple(max(p, 0) for p in pads)
            args = f"{pads!r}, {value}" if mode == "constant" else repr(pads)
            if mode == "constant" and value == 0.0 and draw(st.booleans()):
                name, args = "ZeroPad", repr(pads)
            return RuleCase(f"nn.{name}{n}d({args})", "self.layer(x)", shape)

        return pad_case()
