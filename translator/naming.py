"""Names: what a name in the user's file is bound to, and which attribute names the translation changes.

A leaf module: it imports nothing from ``translator``, so the rules (``translator.rules``), the rewrite
(``translator.rewrite``) and the port plan (``translator.weights.plan``) share it without one of them
depending on another (``tests/translate/test_layering.py`` holds the layering).

``import torch.nn as nn``, ``from torch import nn`` and ``from torch.nn import
Linear`` all make ``nn.Linear`` / ``Linear`` resolve to ``torch.nn.Linear``.
Resolution uses libcst's :class:`QualifiedNameProvider` over the whole module;
a name bound to more than one thing (reassigned conditionally) is ambiguous and
resolves to nothing, so the caller reports it instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst._metadata_dependent import LazyValue
from libcst.metadata import (
    MetadataWrapper,
    PositionProvider,
    QualifiedName,
    QualifiedNameProvider,
    QualifiedNameSource,
)


@dataclass(frozen=True)
class ResolvedModule:
    """A parsed file with the metadata every stage needs, computed once."""

    wrapper: MetadataWrapper
    qualified_names: Mapping[cst.CSTNode, set[QualifiedName]]
    positions: Mapping[cst.CSTNode, object]

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module

    def qualified_name(self, node: cst.CSTNode) -> str | None:
        """The one imported/builtin name ``node`` denotes, or None (local, unknown or ambiguous)."""
        names = self.names_of(node)
        if len(names) != 1:
            return None
        (name,) = names
        return name.name

    def names_of(self, node: cst.CSTNode) -> set[QualifiedName]:
        value = self.qualified_names.get(node, set())
        return value() if isinstance(value, LazyValue) else value

    def is_import(self, node: cst.CSTNode) -> bool:
        names = self.names_of(node)
        return len(names) == 1 and next(iter(names)).source is QualifiedNameSource.IMPORT

    def is_local(self, node: cst.CSTNode) -> bool:
        names = self.names_of(node)
        return len(names) == 1 and next(iter(names)).source is QualifiedNameSource.LOCAL

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based line and column of ``node`` in the original source."""
        pos = self.positions.get(node)
        if pos is None:
            return (1, 1)
        return (pos.start.line, pos.start.column + 1)


def resolve(source: str) -> ResolvedModule:
    """Parse ``source`` and resolve qualified names and positions (raises ParserSyntaxError)."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    qualified = wrapper.resolve(QualifiedNameProvider)
    positions = wrapper.resolve(PositionProvider)
    return ResolvedModule(wrapper, qualified, positions)


def is_torch_name(qualified_name: str | None) -> bool:
    return qualified_name is not None and (qualified_name == "torch" or qualified_name.startswith("torch."))


def is_dotted_name(node: cst.CSTNode) -> bool:
    """``a`` or ``a.b.c``: the only spellings that can name an imported object."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def library_name(resolved: ResolvedModule, node: cst.CSTNode) -> str | None:
    """The qualified name of an imported or builtin object ``node`` denotes (not a local).

    Only dotted names qualify: ``torch.abs(y).exp`` is a method of a value, whatever
    name the metadata provider composes for it.
    """
    if not is_dotted_name(node):
        return None
    names = resolved.names_of(node)
    if len(names) != 1:
        return None
    (name,) = names
    if name.source in (QualifiedNameSource.IMPORT, QualifiedNameSource.BUILTIN):
        return name.name
    return None


def colliding_attributes(init: cst.FunctionDef | None, fields: list[str]) -> set[str]:
    """Attributes ``__init__`` assigns that share a constructor parameter's name (other than ``self.x = x``).

    A Flax module's constructor arguments and attributes share one namespace, so the translation renames
    these (``name_``: ``translator.rewrite.module_class``) and the port plan names their tensors alike
    (``translator.weights.plan.flax_attribute_name``).
    """
    if init is None:
        return set()
    names = set()
    for assign in m.findall(init, m.Assign()):
        for target in assign.targets:  # `self.patch_size = ph, pw = pair(patch_size)` too
            if m.matches(target.target, m.Attribute(value=m.Name("self"), attr=m.Name())):
                name = target.target.attr.value
                if name in fields and not (len(assign.targets) == 1 and m.matches(assign.value, m.Name(name))):
                    names.add(name)
    return names
