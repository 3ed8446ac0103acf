"""The layering of ``translator``, read from its import statements (``ast``; nothing is imported).

From the bottom up, each layer imports only the layers below it and itself:

- the leaves, ``translator.diagnostics``, ``translator.naming`` (what a name denotes, which attributes
  the translation renames) and ``translator.weights.layouts`` (the named weight transforms), import
  nothing from ``translator`` but ``diagnostics``;
- ``translator.rules``: a rule says how a layer or call translates and how its weights are laid out,
  never how a file is rewritten;
- ``translator.rewrite``: the rewrite of a file, asking the rules; its one call upward is
  ``rewrite/pipeline.py`` handing a training script to ``translator.training.script``, inside the function
  (``UPWARD_CALLS``);
- the port plan, ``weights/plan.py`` and ``weights/checkpoint.py``: the plan asks the same rules for each
  tensor's layout, so it stands on ``rules`` beside ``rewrite``, and never imports it;
- above them all, what puts them together: ``loading``, ``instance/``, ``weights/port.py`` (which may
  translate a built model), ``training/``, ``equivalence/``, ``explain/``, the command line and the API.

So importing a rule (and through it ``weights.layouts``), or the port plan, never loads the rewrite: the
cycle ``rules -> weights -> rewrite -> rules`` of issue 16 is gone. Imports inside functions and under
``if TYPE_CHECKING:`` count like any other (``rules/base.py`` names ``weights.layouts`` there, a leaf).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "translator"

LEAVES = ("translator.diagnostics", "translator.naming", "translator.weights.layouts",
          "translator.weights.parametrized")  # what torch's weight norm and parametrizations hold (rule L060, the port)
RULES = ("translator.rules",)
REWRITE = ("translator.rewrite",)
PORT_PLAN = ("translator.weights.plan", "translator.weights.checkpoint")
#: imports from a lower layer into a higher one, each inside a function: (importer, imported)
UPWARD_CALLS = {("translator.rewrite.pipeline", "translator.training.script")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


@functools.cache
def imports(module: str) -> tuple[tuple[str, bool], ...]:
    """``(imported translator module, whether the import is inside a function)`` for each import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                yield from ((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the package, up level - 1
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in child.names:  # `from translator.rewrite import pipeline` imports a module
                    yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base), in_function
            yield from visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    return tuple((name, in_function) for name, in_function in visit(tree, False) if within(name, ("translator",)))


def reached(start: str) -> set[str]:
    """Every translator module importing ``start`` may load, following every import statement."""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in MODULES:
            continue
        seen.add(module)
        todo.extend(name for name, _ in imports(module))
    return seen


def in_layer(layers: tuple[str, ...]) -> list[str]:
    return [name for name in MODULES if within(name, layers)]


def test_the_layers_exist():
    for layer in (*LEAVES, *RULES, *REWRITE, *PORT_PLAN):
        assert in_layer((layer,)), layer


@pytest.mark.parametrize("module", LEAVES)
def test_leaves_import_nothing_from_translator_but_diagnostics(module):
    assert {name for name, _ in imports(module)} <= {"translator.diagnostics"} - {module}


def test_rules_import_only_rules_and_the_leaves():
    wrong = {(module, name) for module in in_layer(RULES) for name, _ in imports(module) if not within(name, RULES + LEAVES)}
    assert not wrong


def test_rewrite_imports_only_rewrite_rules_and_the_leaves():
    upward = {(module, name, in_function) for module in in_layer(REWRITE) for name, in_function in imports(module)
              if not within(name, REWRITE + RULES + LEAVES)}
    assert {(module, name) for module, name, _ in upward} == UPWARD_CALLS
    assert all(in_function for _, _, in_function in upward)


def test_the_port_plan_imports_no_rewrite():
    wrong = {(module, name) for module in PORT_PLAN for name, _ in imports(module)
             if not within(name, ("translator.weights",) + RULES + LEAVES)}
    assert not wrong
    assert not [(module, name) for module in in_layer(("translator.weights",)) for name, _ in imports(module) if within(name, REWRITE)]


def test_rules_and_the_port_plan_never_reach_the_rewrite():
    """The cycle of issue 16, rules -> weights -> rewrite -> rules, through any chain of imports."""
    wrong = {start: sorted(name for name in reached(start) if within(name, REWRITE)) for start in [*in_layer(RULES), *PORT_PLAN]}
    assert not {start: names for start, names in wrong.items() if names}
