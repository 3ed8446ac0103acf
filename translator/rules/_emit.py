"""Small code-building helpers shared by rules (argument normalisation, keyword lists)."""

from __future__ import annotations

import libcst as cst

from translator.rules.base import BuildContext, NotLiteral


def code_of(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def ntuple(ctx: BuildContext, name: str, n: int) -> cst.BaseExpression:
    """PyTorch's ``int | tuple`` size argument as an explicit ``n``-tuple expression."""
    try:
        value = ctx.literal(name)
    except NotLiteral:
        expr = ctx.expr(name)
        return cst.parse_expression(f"({cst.Module([]).code_for_node(expr)},) * {n}")
    if isinstance(value, int):
        return cst.parse_expression(repr((value,) * n))
    if isinstance(value, (tuple, list)) and len(value) == n:
        return cst.parse_expression(repr(tuple(value)))
    ctx.unsupported(f"`{name}={value!r}` does not have {n} entries")
    return ctx.expr(name)


def literal_or_none(ctx: BuildContext, name: str):
    try:
        return ctx.literal(name)
    except NotLiteral:
        return NotLiteral


def call(function: str, positional: list[cst.BaseExpression], keywords: dict[str, cst.BaseExpression]) -> cst.Call:
    """``function(*positional, **keywords)`` as a CST call, keywords in the given order."""
    args = [cst.Arg(v) for v in positional]
    args += [cst.Arg(value=v, keyword=cst.Name(k)) for k, v in keywords.items()]
    return cst.Call(func=cst.parse_expression(function), args=args)


def is_one(ctx: BuildContext, name: str, n: int) -> bool:
    """True when a size argument is 1 along every axis (the Flax default)."""
    value = literal_or_none(ctx, name)
    return value == 1 or value == (1,) * n
