"""einops patterns read for layout: the left side of a pattern names the input's axes.

A channels-last value holds PyTorch's axes in the order ``0, 2, ..., r-1, 1``.
einops refers to axes by position on the left side of a pattern, so instead of
transposing the value back we can move the second entry of the left side to the
end: ``'b c h w -> b (h w) c'`` on an NHWC value reads ``'b h w c -> b (h w) c'``.
Every entry of a left side (a name, an anonymous ``1``, a group ``(h p)``, the
ellipsis) stands for whole input axes, so moving entries never changes what an
entry means.  The rewrite is only made where it is provably the same:

* the channel entry must be named (the second entry, not inside ``...``),
* the entry count must agree with the value's rank when that is known.

Otherwise :func:`channels_last_side` returns None and the caller converts the
value to PyTorch's layout first.
"""

from __future__ import annotations

import re

import libcst as cst

from translator.rules.base import CallContext, Emitted, Fact, NotLiteral

ELLIPSIS = ("...", "…")
_TOKEN = re.compile(r"\(|\)|\.\.\.|…|[^\s()]+")


def split_arrow(pattern: str) -> tuple[str, str] | None:
    """``(left, right)`` of ``'left -> right'``, or None for a malformed pattern."""
    if pattern.count("->") != 1:
        return None
    left, right = pattern.split("->")
    return left, right


def entries(side: str) -> list[str] | None:
    """The top-level entries of one side (``['b', 'c', '(h p1)', '...']``), or None if unreadable."""
    out: list[str] = []
    group: list[str] | None = None
    for token in _TOKEN.findall(side):
        if token == "(":
            if group is not None:
                return None  # nested groups: einops rejects them; leave the error to einops
            group = []
        elif token == ")":
            if group is None:
                return None
            out.append("(" + " ".join(group) + ")")
            group = None
        elif group is not None:
            if token in ELLIPSIS:
                return None  # an ellipsis inside a group on the left: not provable, use the plain layout
            group.append(token)
        else:
            out.append(token)
    return None if group is not None else out


def channels_last_side(side: str, rank: int | None) -> str | None:
    """The left side that reads a channels-last value as ``side`` reads the plain one, or None."""
    axes = entries(side)
    if axes is None:
        return None
    ellipses = [i for i, a in enumerate(axes) if a in ELLIPSIS]
    if len(ellipses) > 1:
        return None
    if ellipses:
        if ellipses[0] < 2:  # the channel axis is inside the ellipsis: its place would change
            return None
        if rank is not None and len(axes) - 1 > rank:
            return None
    else:
        if len(axes) < 2 or (rank is not None and len(axes) != rank):
            return None
    return " ".join([axes[0], *axes[2:], axes[1]])


def channels_last_pattern(pattern: str, rank: int | None) -> str | None:
    """``pattern`` (``left -> right``) with its left side read from a channels-last value, or None."""
    sides = split_arrow(pattern)
    if sides is None:
        return None
    left = channels_last_side(sides[0], rank)
    return None if left is None else f"{left} -> {sides[1].strip()}"


def pattern_literal(ctx: CallContext, name: str) -> str | None:
    """The pattern argument as a Python string, or None when it is not a constant."""
    try:
        value = ctx.literal(name)
    except NotLiteral:
        return None
    return value if isinstance(value, str) else None


def axes_lengths(ctx: CallContext, name: str = "axes_lengths") -> list[cst.Arg]:
    """The ``**axes_lengths`` keywords (``h=2``) as call arguments, values already translated."""
    if ctx.is_default(name):
        return []
    pairs = ctx.expr(name)
    args = []
    for element in pairs.elements:
        key, value = (e.value for e in element.value.elements)
        args.append(cst.Arg(value=value, keyword=cst.Name(key.evaluated_value)))
    return args


def literal_axes_lengths(ctx, name: str = "axes_lengths") -> dict | None:
    """The ``**axes_lengths`` of a constructor as a dict of constants, or None if any is an expression."""
    if ctx.is_default(name):
        return {}
    try:
        return dict(ctx.literal(name))
    except NotLiteral:
        return None


def layout_input(ctx: CallContext, name: str, pattern: str | None, rewrite) -> tuple[cst.BaseExpression, str | None]:
    """The input and the pattern to call einops with: the pattern rewritten for a channels-last input
    when ``rewrite(pattern, rank)`` proves it, otherwise the input converted to PyTorch's layout."""
    fact: Fact = ctx.fact(name)
    if fact.channels_last and pattern is not None:
        rewritten = rewrite(pattern, fact.rank)
        if rewritten is not None:
            ctx.note("an einops pattern reads a channels-last value by naming its axes in that order: no transpose")
            return ctx.expr(name), rewritten
    return ctx.plain(name), pattern


def string(value: str) -> cst.SimpleString:
    return cst.SimpleString(repr(value))


def einops_call(function: cst.BaseExpression | str, args: list[cst.BaseExpression | cst.Arg]) -> Emitted:
    """``function(*args)``: an einops call on a jax array; its result is in PyTorch's layout."""
    func = cst.parse_expression(function) if isinstance(function, str) else function
    arguments = [a if isinstance(a, cst.Arg) else cst.Arg(a) for a in args]
    return Emitted(cst.Call(func=func, args=arguments))


def sizes_keywords(sizes: dict) -> list[cst.Arg]:
    return [cst.Arg(value=cst.parse_expression(repr(v)), keyword=cst.Name(k)) for k, v in sizes.items()]


def sizes_expr(ctx, name: str = "axes_lengths") -> cst.BaseExpression:
    """A constructor's ``**axes_lengths`` as a dict expression ``{'p': patch}`` (for a flax layer's ``sizes``)."""
    if ctx.is_default(name):
        return cst.Dict([])
    return cst.Dict([cst.DictElement(*(e.value for e in pair.value.elements)) for pair in ctx.expr(name).elements])
