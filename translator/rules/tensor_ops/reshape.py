"""T002 TorchReshape: ``x.view(...)``, ``x.reshape(...)``, ``torch.reshape`` -> ``reshape`` in PyTorch's order."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from hypothesis import strategies as st

from translator.rules.base import (
    Emitted,
    Example,
    Rule,
    RuleCase,
    RuleDoc,
    plain_of_rank,
    signature_of,
)
from translator.rules.registry import register


def _reshape(input, *shape): ...


def shape_rank(shape: cst.BaseExpression, elements: list[cst.BaseExpression]) -> int | None:
    """The rank a reshape to ``shape`` gives, where the call spells it: sizes as separate arguments
    (``x.view(b, c, 1, 1)``: 4), or one tuple or list of them; None for ``x.view(*s)`` or ``x.view(s)``."""
    if isinstance(shape, cst.Tuple) and any(isinstance(e, cst.StarredElement) for e in shape.elements):
        return None
    if len(elements) != 1:
        return len(elements)
    (only,) = elements
    if isinstance(only, (cst.Tuple, cst.List)):
        return None if any(isinstance(e, cst.StarredElement) for e in only.elements) else len(only.elements)
    return 1 if m.matches(only, m.Integer() | m.UnaryOperation(expression=m.Integer())) else None  # x.view(-1)


@register
class TorchReshape(Rule):
    code = "T002"
    name = "TorchReshape"
    summary = "x.view / x.reshape / torch.reshape -> reshape (views become copies; order kept)"
    torch_functions = ("torch.reshape",)
    tensor_methods = ("view", "reshape")
    call_signature = signature_of(_reshape)
    doc = RuleDoc(
        what="`x.view(n, -1)`, `x.reshape(shape)`, `torch.reshape(x, shape)`.",
        why=(
            "JAX has no views: `reshape` returns a new array (XLA elides the copy). A reshape reads the\n"
            "data in row-major order, so it must see PyTorch's layout: channels-last values are\n"
            "transposed back first. (`x.view(dtype)` reinterprets bits; it is reported, not translated.)"
        ),
        example=Example(torch="x = x.view(x.size(0), -1)", flax="x = x.reshape(x.shape[0], -1)"),
        fidelity="Exact: values move without arithmetic.",
    )

    def emit_call(self, ctx):
        x = ctx.plain("input")
        shape = ctx.expr("shape")
        elements = [e.value for e in shape.elements] if isinstance(shape, cst.Tuple) else [shape]
        if not isinstance(x, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
            x = cst.parse_expression(f"({cst.Module([]).code_for_node(x)})")
        rank = shape_rank(shape, elements)
        sizes = elements[0].elements if rank is not None and len(elements) == 1 and isinstance(elements[0], (cst.Tuple, cst.List)) else elements
        unit = any(m.matches(e.value if isinstance(e, cst.BaseElement) else e, m.Integer(value="1")) for e in sizes)
        return Emitted(cst.Call(func=cst.Attribute(value=x, attr=cst.Name("reshape")), args=[cst.Arg(e) for e in elements]),
                       plain_of_rank(rank, broadcasts=unit))

    def cases(self):
        @st.composite
        def reshape_case(draw):
            shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
            size = 1
            for s in shape:
                size *= s
            form = draw(st.sampled_from(["x.view({})", "x.reshape({})", "torch.reshape(x, ({},))"]))
            target = draw(st.sampled_from([f"{size}", "-1", "x.size(0), -1" if len(shape) > 1 else "-1"]))
            return RuleCase(None, form.format(target), shape)

        return reshape_case()
