"""L014 TorchPad: ``nn.ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad{1,2}d`` and ``F.pad``."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
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
    if pad is NotLiteral and not constructor and "pad" in ctx.signature.parameters:  # F.pad, not a *Pad layer
        pad = computed_widths(ctx)
    if NotLiteral in (pad, mode, value) or not isinstance(pad, (tuple, list)) or len(pad) % 2:
        ctx.unsupported("`pad` must be a tuple of an even length, written out; `mode` and `value` constants")
        return Emitted(ctx.expr("input"))
    if mode not in MODES:
        ctx.unsupported(f"padding mode {mode!r} is not translated")
        return Emitted(ctx.expr("input"))
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]  # pairs[0] pads the last axis
    computed = any(isinstance(p, Computed) for pair in pairs for p in pair)
    # a computed width (from shapes: static under jit) may be negative only where PyTorch allows it
    negative = any(p < 0 for pair in pairs for p in pair if not isinstance(p, Computed)) or (computed and mode == "constant")
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
        return Emitted(cst_of(padded(code_of(ctx.expr("input")), widths_code(widths, tuple))), channels_last(rank))
    trailing = widths_code(list(reversed(pairs)), list)
    value = ctx.expr("input") if constructor else ctx.plain("input")
    return Emitted(bind(value, lambda x: padded(x, f"[(0, 0)] * ({x}.ndim - {len(pairs)}) + {trailing}")))


class Computed(str):
    """A pad width computed in the program (``W % window``, fx's ``sub_1``): its source, static under jit."""


def computed_widths(ctx, name: str = "pad"):
    """``F.pad(x, (0, pad_r, 0, pad_b))``: the widths written out as a tuple of expressions (ints where
    literal), or NotLiteral when the tuple itself is computed."""
    if getattr(ctx, "body", None) is not None:
        node = ctx.plain(name)
    else:  # a layer's constructor arguments, inlined at its call: names of fields are read from `self`
        node, fields = ctx.expr(name), getattr(ctx, "fields", frozenset())
        names = {n.value for n in m.findall(node, m.Name())}
        if not names <= fields:
            return NotLiteral
        node = node.visit(_FieldsOfSelf(fields))
    if not isinstance(node, (cst.Tuple, cst.List)) or any(isinstance(e, cst.StarredElement) for e in node.elements):
        return NotLiteral
    widths = []
    for element in node.elements:
        text = code_of(element.value)
        try:
            widths.append(int(text))
        except ValueError:
            widths.append(Computed(text))
    return tuple(widths)


class _FieldsOfSelf(cst.CSTTransformer):
    def __init__(self, fields):
        super().__init__()
        self.fields = fields

    def leave_Name(self, original, updated):
        return cst.Attribute(cst.Name("self"), updated) if updated.value in self.fields else updated


def widths_code(widths, kind) -> str:
    """Source of a sequence of (low, high) pairs whose entries are ints or :class:`Computed` source."""
    pairs = ", ".join(f"({lo}, {hi})" for lo, hi in widths)
    return f"({pairs},)" if kind is tuple and len(widths) == 1 else (f"({pairs})" if kind is tuple else f"[{pairs}]")


def cst_of(code: str):
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
        if padding is NotLiteral:  # `nn.ZeroPad2d((a, b, a // 2, b))` of constructor arguments (fields)
            padding = computed_widths(ctx, "padding")
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

        # widths computed from shapes in forward (swin's window padding, a traced `dim - 6 * (dim // 6)`)
        @st.composite
        def computed_case(draw):
            mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
            after_conv = draw(st.booleans())
            shape = (2, 3, draw(st.integers(3, 7)), draw(st.integers(3, 7)))
            x = "self.layer(x)" if after_conv else "x"
            width = draw(st.sampled_from(["(4 - x.shape[-1] % 4) % 4", "x.shape[-2] // 3", "x.size(1) - 2"]))
            forms = [f"(1, {width}, {width}, 0)", f"({width}, 0, 0, 1)"] + ([f"(0, {width})"] if mode == "constant" else [])
            pads = draw(st.sampled_from(forms))  # PyTorch pads 4-D input in other modes by 4 widths only
            init = f"nn.Conv2d({shape[1]}, {shape[1]}, 1)" if after_conv else None
            return RuleCase(init, f"F.pad({x}, {pads}, mode={mode!r})", shape)

        return st.one_of(pad_case(), computed_case())
