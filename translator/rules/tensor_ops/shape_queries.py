"""T003 TorchShapeQueries: ``x.size()``, ``x.size(d)``, ``x.dim()``, ``x.numel()`` -> ``shape``/``ndim``/``size``."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import (
    SCALAR,
    Emitted,
    Example,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
    torch_dim_to_channels_last_axis,
)
from translator.rules.registry import register


def _size(input, dim=None): ...


@register
class TorchShapeQueries(Rule):
    code = "T003"
    name = "TorchShapeQueries"
    summary = "x.size() / x.size(d) / x.dim() / x.numel() -> x.shape / x.shape[d] / x.ndim / x.size"
    tensor_methods = ("size", "dim", "numel")
    call_signature = signature_of(_size)
    doc = RuleDoc(
        what="Shape queries on a tensor: `x.size()`, `x.size(0)`, `x.dim()`, `x.numel()`.",
        why=(
            "JAX arrays expose shape as attributes; note that `x.size` in JAX is the element count\n"
            "(PyTorch's `numel()`), not the shape. Shapes are static under `jit`, so these are Python\n"
            "ints at trace time. On a channels-last value the axis is remapped, not transposed."
        ),
        example=Example(torch="n = x.size(0)", flax="n = x.shape[0]"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        x = ctx.expr("input")
        code = cst.Module([]).code_for_node(x)
        if ctx.target == "dim":
            return Emitted(cst.parse_expression(f"{code}.ndim"), SCALAR)
        if ctx.target == "numel":
            return Emitted(cst.parse_expression(f"{code}.size"), SCALAR)
        dim = literal_or_none(ctx, "dim")
        fact = ctx.fact("input")
        if dim is None:
            return Emitted(cst.parse_expression(f"{cst.Module([]).code_for_node(ctx.plain('input'))}.shape"))
        if fact.channels_last and isinstance(dim, int):
            return Emitted(cst.parse_expression(f"{code}.shape[{torch_dim_to_channels_last_axis(dim, fact.rank)}]"), SCALAR)
        if dim is NotLiteral or fact.channels_last:
            code = cst.Module([]).code_for_node(ctx.plain("input"))
            return Emitted(cst.parse_expression(f"{code}.shape[{cst.Module([]).code_for_node(ctx.expr('dim'))}]"), SCALAR)
        return Emitted(cst.parse_expression(f"{code}.shape[{dim}]"), SCALAR)

    def cases(self):
        @st.composite
        def size_case(draw):
            shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
            dim = draw(st.integers(-len(shape), len(shape) - 1))
            return RuleCase(None, f"x * x.size({dim}) + x.dim() + x.numel()", shape)

        return size_case()
