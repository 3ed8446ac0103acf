"""T001 TorchFlatten: ``torch.flatten``, ``x.flatten``, ``nn.Flatten`` -> ``reshape`` in PyTorch's order."""

from __future__ import annotations

import libcst as cst
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
from translator.rules.registry import register


def _flatten(input, start_dim=0, end_dim=-1): ...


def spatial_axes_joined(ctx, rank: int) -> Emitted:
    """``x.flatten(2)`` of a channels-last map: (N, *S, C) -> (N, L, C), which is PyTorch's (N, C, L) result
    channels-last, so no transpose is needed (a ViT's patch embedding, ``x.flatten(2).transpose(1, 2)``,
    is then one reshape: T014 reads the swap of a channels-last rank-3 value as the array itself)."""
    value = ctx.expr("input")
    ctx.note("flatten(2) of a channels-last map joins its spatial axes: (N, H, W, C) -> (N, H*W, C), PyTorch's "
             "(N, C, H*W) channels-last, with no transpose")
    if rank == 3:
        return Emitted(value, channels_last(3))
    if isinstance(value, (cst.Name, cst.Attribute)):
        x = code_of(value)
        return Emitted(cst.parse_expression(f"{x}.reshape({x}.shape[0], -1, {x}.shape[-1])"), channels_last(3))
    # an expression's shape is not read (it would be computed twice): the axes are collapsed by position
    return Emitted(cst.parse_expression(f"jax.lax.collapse({code_of(value)}, 1, {rank - 1})"), channels_last(3))


def flatten_expr(ctx, start, end) -> Emitted:
    """``x`` reshaped so that axes ``start..end`` become one, read in PyTorch's (NCHW) order."""
    if start is NotLiteral or end is NotLiteral:
        ctx.unsupported("`start_dim`/`end_dim` must be constants")
        return Emitted(ctx.expr("input"))
    fact = ctx.fact("input")
    if fact.channels_last and fact.rank is not None and (start % fact.rank, end % fact.rank) == (2, fact.rank - 1):
        return spatial_axes_joined(ctx, fact.rank)
    shape_of = code_of(ctx.expr("input"))  # shapes are read off the value as it is, axes remapped
    x = ctx.plain("input")  # flattening NHWC would permute features: transpose back first
    code = code_of(x)
    if not isinstance(x, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        code = f"({code})"
    if fact.channels_last:
        start, end = start % fact.rank, end % fact.rank
        if end == fact.rank - 1:
            end = -1

    def dim(i: int) -> str:
        axis = torch_dim_to_channels_last_axis(i, fact.rank) if fact.channels_last else i
        return f"{shape_of}.shape[{axis}]"

    if (start, end) == (0, -1):
        return Emitted(cst.parse_expression(f"{code}.reshape(-1)"))
    if fact.rank is not None and (start < 0 or end < -1):
        start, end = start % fact.rank, (end % fact.rank if end < -1 else end)
    if start < 0 or end < -1:  # the rank is read where it runs (static under jit): na_vit's flatten(-2)
        if start >= 0 and end >= 0 or not isinstance(x, (cst.Name, cst.Attribute)):
            ctx.unsupported("negative `start_dim`/`end_dim` other than -1 on an expression need the input's rank: "
                            "flatten a named value")
            return Emitted(x)
        low = str(start) if start >= 0 else f"{code}.ndim - {-start}"
        stop = "" if end == -1 else f", {code}.ndim - {-end - 1}"
        return Emitted(cst.parse_expression(f"jax.lax.collapse({code}, {low}{stop})"))
    if not isinstance(ctx.expr("input"), (cst.Name, cst.Attribute)):
        # reading the shape of an expression would compute it twice (a batch norm would update its
        # statistics twice): collapse the axes without naming the others
        stop = "" if end == -1 else f", {end + 1}"
        return Emitted(cst.parse_expression(f"jax.lax.collapse({code}, {start}{stop})"))
    if end == -1 and start >= 0:
        head = ", ".join(dim(i) for i in range(start))
        return Emitted(cst.parse_expression(f"{code}.reshape({head}, -1)"))
    return Emitted(cst.parse_expression(f"{code}.reshape({code}.shape[:{start}] + (-1,) + {code}.shape[{end + 1}:])"))


@register
class TorchFlatten(Rule):
    code = "T001"
    name = "TorchFlatten"
    summary = "torch.flatten / x.flatten / nn.Flatten -> reshape, in PyTorch's (NCHW) feature order"
    torch_classes = ("torch.nn.Flatten",)
    torch_functions = ("torch.flatten",)
    tensor_methods = ("flatten",)
    call_signature = signature_of(_flatten)
    doc = RuleDoc(
        what="Flattening a range of axes: `torch.flatten(x, 1)`, `x.flatten(1)`, `nn.Flatten()`.",
        why=(
            "After channels-last convolutions the data is NHWC; reshaping it directly would order the\n"
            "features (h, w, c) instead of PyTorch's (c, h, w), and the next Linear's ported weights\n"
            "would be applied to the wrong features (measured: 97% relative error). The translation\n"
            "transposes back to NCHW first, so ported weights need no row permutation.\n"
            "Flattening only the spatial axes (`x.flatten(2)`: a patch embedding's tokens, attention over a\n"
            "U-Net's pixels) needs no transpose: (N, H, W, C) -> (N, H*W, C) is PyTorch's (N, C, H*W)\n"
            "channels-last, and the `.transpose(1, 2)` that follows is that array itself (T014)."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nx = self.conv(x)\nx = torch.flatten(x, 1)",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "x = self.conv(jnp.transpose(x, (0, 2, 3, 1)))  # NHWC\n"
                "x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)  # NHWC -> NCHW first"
            ),
        ),
        fidelity="Exact: a reshape (and transpose) moves values without arithmetic.",
    )

    def build_layer(self, ctx):
        start, end = literal_or_none(ctx, "start_dim"), literal_or_none(ctx, "end_dim")

        def inline(call_ctx):
            return flatten_expr(call_ctx, start, end)

        return LayerBuild(None, CallSpec(accepts="any", produces="plain"), inline=inline)

    def emit_call(self, ctx):
        return flatten_expr(ctx, literal_or_none(ctx, "start_dim"), literal_or_none(ctx, "end_dim"))

    def cases(self):
        @st.composite
        def flatten_case(draw):
            rank = draw(st.integers(1, 4))
            shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
            start = draw(st.integers(0, rank - 1))
            end = draw(st.sampled_from([-1, *range(start, rank)]))
            if draw(st.booleans()):  # negative axes, counted from the end (na_vit's flatten(-2))
                start, end = start - rank, (end - rank if end >= 0 else -1)
            if draw(st.booleans()):  # layout: a conv's map flattened to tokens (no transpose), then reordered
                conv, shape = draw(st.sampled_from([("nn.Conv1d(2, 3, 1)", (2, 2, 5)), ("nn.Conv2d(2, 3, 1)", (2, 2, 3, 4)),
                                                    ("nn.Conv3d(2, 3, 1)", (2, 2, 3, 2, 2))]))
                forward = draw(st.sampled_from([
                    "self.layer(x).flatten(2).transpose(1, 2)", "torch.flatten(self.layer(x), 2).permute(0, 2, 1) * 2",
                    "self.layer(x).flatten(2).mean(-1)", "self.layer(x).flatten(2).swapaxes(-1, -2).sum(1)",
                    "self.layer(x).flatten(2)", "self.layer(x).flatten(2).transpose(2, 1) + 1.0",
                ]))
                return RuleCase(conv, forward, shape)
            form = draw(st.sampled_from(["module", "function", "method"]))
            if form == "module":
                return RuleCase(f"nn.Flatten({start}, {end})", "self.layer(x)", shape)
            if form == "function":
                return RuleCase(None, f"torch.flatten(x, {start}, {end})", shape)
            return RuleCase(None, f"x.flatten({start}, {end})", shape)

        return flatten_case()
