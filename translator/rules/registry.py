"""The rule catalogue: every rule registers itself here, by the file it lives in.

Rules are found by importing every module under ``translator.rules`` (a rule is
registered by the existence of its file, as in pyupgrade).  Lookups resolve a
qualified name to the Python object it denotes, so ``torch.nn.Linear`` and
``torch.nn.modules.linear.Linear`` find the same rule.
"""

from __future__ import annotations

import importlib
import pkgutil
import pydoc
from functools import cache
from typing import TypeVar

from translator.rules.base import Rule

_RULES: dict[str, Rule] = {}

R = TypeVar("R", bound=type[Rule])


def register(rule_class: R) -> R:
    """Class decorator: add one instance of the rule to the catalogue."""
    rule = rule_class()
    if rule.code in _RULES and type(_RULES[rule.code]) is not rule_class:
        raise ValueError(f"rule code {rule.code} is used twice")
    _RULES[rule.code] = rule
    return rule_class


@cache
def _load_all() -> None:
    import translator.rules as package

    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.rsplit(".", 1)[-1] not in {"base", "registry"}:
            importlib.import_module(info.name)


def all_rules() -> list[Rule]:
    _load_all()
    return sorted(_RULES.values(), key=lambda r: r.code)


def rule_by_code(code: str) -> Rule | None:
    _load_all()
    return _RULES.get(code.upper())


def _object_key(qualified_name: str) -> object:
    obj = pydoc.locate(qualified_name)
    return obj if obj is not None else qualified_name


@cache
def _by_object() -> dict[int, Rule]:
    index: dict[int, Rule] = {}
    for rule in all_rules():
        for name in (*rule.torch_classes, *rule.torch_functions):
            obj = _object_key(name)
            if obj is name:
                continue  # not importable in this torch version; the rule simply does not apply
            index.setdefault(id(obj), rule)
    return index


@cache
def _by_method() -> dict[str, Rule]:
    index: dict[str, Rule] = {}
    for rule in all_rules():
        for method in rule.tensor_methods:
            if method in index:
                raise ValueError(f"tensor method {method!r} claimed by {index[method].code} and {rule.code}")
            index[method] = rule
    return index


def rule_for_qualified_name(qualified_name: str) -> Rule | None:
    """The rule that translates the object a qualified name denotes, if any.

    Only names under a package some rule claims (``torch``, ``einops``) are looked up: locating any
    other name would import the user's package, whose import may fail or have side effects."""
    if qualified_name.split(".")[0] not in _claimed_packages():
        return None
    try:
        obj = pydoc.locate(qualified_name)
    except pydoc.ErrorDuringImport:
        return None
    if obj is None:
        return None
    return _by_object().get(id(obj))


@cache
def _claimed_packages() -> frozenset[str]:
    return frozenset(name.split(".")[0] for rule in all_rules() for name in (*rule.torch_classes, *rule.torch_functions))


def rule_for_object(obj: object) -> Rule | None:
    """The rule that translates a live object (a torch layer class, a function)."""
    return _by_object().get(id(obj))


def rule_for_method(method: str) -> Rule | None:
    return _by_method().get(method)
