"""Hypothesis strategies shared by the einops rules: random patterns, inputs and import spellings.

A drawn :class:`Draw` is a left side over a rank-3 or rank-4 input (``b c h`` /
``b c h w``), possibly with one axis split into a group ``(h k)`` (``k`` passed
as an axis length) and a run of whole axes replaced by ``...``; the input is
PyTorch-layout ``x`` or a channels-last value (a 1-wide max pool, which is the
identity), so both the pattern rewrite and the conversion to plain are tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

NAMES = ("b", "c", "h", "w")
#: (prelude, function spelling) for ``einops.<function>``; ``{f}`` is the function's name
FUNCTION_SPELLINGS = (
    ("import einops", "einops.{f}"),
    ("import einops as E", "E.{f}"),
    ("from einops import {f}", "{f}"),
    ("from einops import {f} as ein_{f}", "ein_{f}"),
)
#: (prelude, class spelling) for ``einops.layers.torch.<Layer>``
LAYER_SPELLINGS = (
    ("from einops.layers.torch import {c}", "{c}"),
    ("import einops.layers.torch as ein_layers", "ein_layers.{c}"),
    ("from einops.layers import torch as ein_torch", "ein_torch.{c}"),
)


@dataclass(frozen=True)
class Draw:
    """A left side and what it names: elementary axes, the axis lengths to pass, the input shape."""

    left: tuple[str, ...]  # entries: 'b', '(h k)', '...'
    axes: tuple[str, ...]  # elementary names in order, '...' included
    lengths: dict  # axis lengths the call must be given (split factors)
    shape: tuple[int, ...]
    channels_last_input: bool

    def input(self) -> str:
        """The forward expression of the input: ``x`` or the same values as a channels-last array."""
        if not self.channels_last_input:
            return "x"
        return f"F.max_pool{len(self.shape) - 2}d(x, 1)"

    def keywords(self) -> str:
        return "".join(f", {k}={v}" for k, v in self.lengths.items())


@st.composite
def left_sides(draw, *, ellipsis: bool = True, split: bool = True) -> Draw:
    rank = draw(st.sampled_from((3, 4)))
    names = list(NAMES[:rank])
    entries: list[str] = list(names)
    shape = [draw(st.integers(1, 3)) for _ in names]
    lengths: dict = {}
    split_at = draw(st.sampled_from([None, *range(1, rank)])) if split else None
    if split_at is not None:
        factor = draw(st.integers(1, 3))
        entries[split_at] = f"({names[split_at]} k)"
        shape[split_at] *= factor
        lengths["k"] = factor
    if ellipsis and draw(st.booleans()):
        start = draw(st.integers(0, rank - 1))
        stop = draw(st.integers(start + 1, rank))
        if split_at is None or not start <= split_at < stop:
            entries[start:stop] = ["..."]
    axes = tuple(a for e in entries for a in e.strip("()").split())
    return Draw(tuple(entries), axes, lengths, tuple(shape), draw(st.booleans()))


@st.composite
def grouped(draw, axes) -> str:
    """``axes`` in a random order, consecutive runs grouped in parentheses (the ellipsis stays alone)."""
    order = list(draw(st.permutations(list(axes))))
    out: list[str] = []
    i = 0
    while i < len(order):
        if order[i] != "..." and draw(st.booleans()):
            run = 1
            while i + run < len(order) and order[i + run] != "..." and run < 3 and draw(st.booleans()):
                run += 1
            out.append("(" + " ".join(order[i : i + run]) + ")")
            i += run
        else:
            out.append(order[i])
            i += 1
    return " ".join(out)


def spelling(draw, function: str) -> tuple[str, str]:
    prelude, call = draw(st.sampled_from(FUNCTION_SPELLINGS))
    return prelude.format(f=function), call.format(f=function)


def layer_spelling(draw, layer: str) -> tuple[str, str]:
    prelude, call = draw(st.sampled_from(LAYER_SPELLINGS))
    return prelude.format(c=layer), call.format(c=layer)
