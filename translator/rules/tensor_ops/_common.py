"""Helpers shared by the tensor-op rules: naming the matched op, reading dims, layout of mixed args.

Not a rule (no ``@register``): the registry imports it like any module under
``translator.rules`` and finds nothing to register.
"""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import PLAIN, Emitted, Fact, NotLiteral, plain_of_rank

#: the name the emitted code uses for a value bound once by ``bind`` (unlikely to clash)
BOUND = "_v"

ATOMIC = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)


def op_name(ctx) -> str:
    """What was matched: the tensor method name, or the torch function's own name (``exp``)."""
    target = getattr(ctx, "target", None)
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", "") or ""
    return name.removeprefix("special_")


def code(ctx, name: str, plain: bool = True) -> str:
    """The bound argument as source text, in PyTorch's layout unless ``plain=False``."""
    return code_of(ctx.plain(name) if plain else ctx.expr(name))


def paren(text: str, node: cst.BaseExpression | None = None) -> str:
    """``text`` wrapped in parentheses unless it is an atom (safe to call a method on)."""
    if node is not None and isinstance(node, ATOMIC):
        return text
    try:
        parsed = cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return f"({text})"
    return text if isinstance(parsed, ATOMIC) else f"({text})"


def simple(text: str) -> bool:
    """A name or attribute chain: cheap and side-effect free to repeat in the emitted code."""
    try:
        node = cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return False
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def bind(value: str, body) -> str:
    """``body(value)``, evaluating ``value`` once: a repeated complex operand becomes a lambda argument.

    ``body`` maps the operand's source text to the expression's; it may use it several times.
    """
    if simple(value):
        return body(value)
    template = body(PLACEHOLDER)
    if template.count(PLACEHOLDER) == 1:  # used once: no binding needed
        return template.replace(PLACEHOLDER, f"({value})")
    return f"(lambda {BOUND}: {body(BOUND)})({value})"


PLACEHOLDER = "__torch2flax_bound__"


def emit(text: str, fact: Fact = PLAIN) -> Emitted:
    return Emitted(cst.parse_expression(text), fact)


def dim_code(ctx, name: str) -> str | None:
    """A ``dim`` argument as source (``1``, ``(2, 3)``), or None when absent/None."""
    value = literal_or_none(ctx, name)
    if value is None:
        return None
    if value is NotLiteral:
        return code_of(ctx.expr(name))
    if isinstance(value, list):
        value = tuple(value)
    return repr(value)


def shared_fact(ctx, names: tuple[str, ...]) -> Fact | None:
    """The common channels-last fact of the tensor args (scalars broadcast with any layout), else None."""
    facts = [ctx.fact(n) for n in names if not ctx.is_default(n)]
    layouts = {(f.channels_last, f.rank) for f in facts if not f.scalar}
    if len(layouts) == 1:
        (layout,) = layouts
        if layout[0]:
            return Fact(channels_last=True, rank=layout[1])
    return None


def shapes(draw, min_rank: int = 1, max_rank: int = 4, min_size: int = 1, max_size: int = 4) -> tuple[int, ...]:
    rank = draw(st.integers(min_rank, max_rank))
    return tuple(draw(st.lists(st.integers(min_size, max_size), min_size=rank, max_size=rank)))


def unsupported(ctx, message: str) -> Emitted:
    """Report ``message`` under the rule's code; the rewriter keeps the original call under a TODO."""
    ctx.unsupported(message)
    return Emitted(cst.Name("None"))


def reduction_arguments(ctx) -> tuple | Emitted:
    """``(dims, keepdim)`` of a reduction (``dim`` an int, a tuple or None), or the report when ``out=`` is
    given or ``keepdim`` is not a constant (it decides the result's shape)."""
    if not ctx.is_default("out"):
        return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
    dims = literal_or_none(ctx, "dim")
    dims = tuple(dims) if isinstance(dims, list) else dims
    keepdim = literal_or_none(ctx, "keepdim")
    if keepdim is NotLiteral:
        return unsupported(ctx, "`keepdim` must be a constant: it decides the result's shape")
    return dims, keepdim


def axes_for(ctx, dims, keepdim: bool, order_free: bool = True) -> tuple[str, str | None, Fact]:
    """Operand source, ``axis=`` source and result fact for a reduction over PyTorch's ``dims``.

    A channels-last operand is reduced in place, with the axes remapped, when the result's
    axis order is PyTorch's (``keepdim``, or every axis left is in order): ``x.mean((2, 3))``
    after a conv needs no transpose. Otherwise the operand goes back to PyTorch's layout.
    ``dims=None`` reduces everything, which is layout-free only for ``order_free`` reductions.
    """
    fact = ctx.fact("input")
    if fact.channels_last and fact.rank:
        rank = fact.rank
        if dims is None and order_free:
            return code(ctx, "input", plain=False), None, PLAIN
        picked = (dims,) if isinstance(dims, int) else dims
        if isinstance(picked, tuple) and picked and all(isinstance(d, int) and -rank <= d < rank for d in picked):
            perm = (0, *range(2, rank), 1)
            reduced = {d % rank for d in picked}
            mapped = tuple(sorted(perm.index(d) for d in reduced))
            axis = repr(mapped[0]) if isinstance(dims, int) else repr(mapped)
            left = [d for d in perm if d not in reduced]
            if keepdim:
                return code(ctx, "input", plain=False), axis, fact
            if left == sorted(left):
                return code(ctx, "input", plain=False), axis, plain_of_rank(len(left))
    return code(ctx, "input"), (None if dims is None else dim_code(ctx, "dim")), plain_of_rank(reduced_rank(fact, dims, keepdim))


def reduced_rank(fact: Fact, dims, keepdim: bool) -> int | None:
    """The rank of a reduction's result over PyTorch's ``dims`` (ints), where the operand's is known."""
    rank = fact.rank if fact.channels_last else fact.ndim
    picked = (dims,) if isinstance(dims, int) else dims
    if rank is None or not isinstance(picked, tuple) or not picked or not all(isinstance(d, int) and -rank <= d < rank for d in picked):
        return None
    return rank if keepdim else rank - len({d % rank for d in picked})


def forward_returning(expression: str) -> str:
    """A model file whose ``forward(self, x)`` returns ``expression``: a flagged example's source."""
    return f"import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n        return {expression}\n"
