"""Maps keyed by which object a key is, not by what it equals: for libcst nodes, whose positions in a
tree are what a transformer remembers between ``visit``/``leave`` calls."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """A mapping keyed by object identity that keeps its keys alive.

    ``{id(node): value}`` is wrong once ``node`` is garbage collected: CPython gives its address to the
    next object allocated, and a lookup with that object finds the dead one's value. A libcst
    transformer drops the nodes its parents replace, so a map from emitted nodes must hold them (a Sequential
    element read as the kind of some other, collected, expression: a convolution run in PyTorch's layout).
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[K, V]] = {}

    def __setitem__(self, key: K, value: V) -> None:
        self._entries[id(key)] = (key, value)

    def __contains__(self, key: object) -> bool:
        return id(key) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, default: V | None = None) -> V | None:
        entry = self._entries.get(id(key))
        return default if entry is None else entry[1]

    def pop(self, key: K, default: V | None = None) -> V | None:
        entry = self._entries.pop(id(key), None)
        return default if entry is None else entry[1]
