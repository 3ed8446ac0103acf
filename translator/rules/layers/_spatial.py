"""Code-building helpers shared by the spatial layer rules (pools, padding, resampling).

The emitted code is a single expression (a layer rule cannot emit statements), so
a value used more than once is bound by an immediately applied ``lambda`` unless
it is already a plain name.  Window geometry that depends on the input size is
written as Python arithmetic on ``x.shape``: shapes are static under ``jit``.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import NotLiteral

#: names the emitted bodies use for their own loop variables and bindings
_RESERVED = frozenset("xp w i j k n o s p m sf scale".split())


def bind(value: cst.BaseExpression, body: Callable[[str], str]) -> cst.BaseExpression:
    """``body(name)`` applied to ``value``: the name itself, or ``(lambda x: ...)(value)``."""
    if isinstance(value, cst.Name) and value.value not in _RESERVED:
        return cst.parse_expression(body(value.value))
    template = body(_PLACEHOLDER)
    if template.count(_PLACEHOLDER) == 1:  # used once: write the value in place, as one would by hand
        return cst.parse_expression(template.replace(_PLACEHOLDER, f"({code_of(value)})"))
    return cst.parse_expression(f"(lambda x: {body('x')})({code_of(value)})")


_PLACEHOLDER = "__torch2flax_bound__"


def sizes(ctx, name: str, n: int, default=None) -> tuple[int, ...] | None:
    """A constant ``int | tuple`` size argument as an ``n``-tuple; None (with a diagnostic) if not constant."""
    value = literal_or_none(ctx, name)
    if value is None or value == ():
        value = default
    if value is NotLiteral or value is None:
        ctx.unsupported(f"`{name}` must be a constant to compute the window geometry")
        return None
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(isinstance(v, int) for v in value):
        return tuple(value)
    ctx.unsupported(f"`{name}={value!r}` does not have {n} integer entries")
    return None


def ceil_overhang(n: str, kernel: int, stride: int, padding: int) -> str:
    """Extra high-side padding of ``ceil_mode=True`` beyond ``padding`` (PITFALLS 1, MaxPool ceil_mode).

    PyTorch adds a last, partial window when the size does not divide, unless that
    window would start in the right padding: ``o = ceil((n + 2p - K) / s) + 1``,
    minus 1 if ``(o - 1) s >= n + p``.  The partial window needs ``r = -(n + 2p - K) % s``
    more cells; it starts in the right padding exactly when ``p + r >= K``, and then
    the ceil and floor sizes agree, so the overhang is 0.  ``kernel`` is the dilated
    extent ``d (k - 1) + 1``.  Never negative: a negative pad has no gradient in
    ``reduce_window``.
    """
    offset = 2 * padding - kernel
    span = f"{n} + {offset}" if offset > 0 else f"{n} - {-offset}" if offset < 0 else n
    partial = f"-({span}) % {stride}"
    if stride <= kernel - padding:  # r < s <= K - p: the last window always starts inside the input
        return partial
    return f"{partial} * ({padding} + -({span}) % {stride} < {kernel})"


def lax_pad(x: str, value: str, lows: tuple[int, ...], highs: list[str]) -> str:
    """``x`` (channels-last) padded by ``jax.lax.pad`` on its spatial axes; negative highs crop."""
    if not any(lows) and all(h == "0" for h in highs):
        return x
    inner = ", ".join(f"({lo}, {hi}, 0)" for lo, hi in zip(lows, highs))
    return f"jax.lax.pad({x}, {value}, ((0, 0, 0), {inner}, (0, 0, 0)))"


def window(values: tuple[int, ...]) -> str:
    """A window/stride tuple over all axes of a channels-last array."""
    return repr((1, *values, 1))
