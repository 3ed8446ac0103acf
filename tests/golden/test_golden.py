"""Golden translations of the reference models: checked in, compared, imported and run.

A change to the emitted code shows up as a diff of these files; regenerate them
with ``UPDATE_GOLDEN=1 python -m pytest tests/golden`` and review the diff.
"""

import os
from pathlib import Path

import pytest

from reference_models import CATALOGUE
from translator.equivalence.check import STAGES, check
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source

GOLDEN = Path(__file__).parent


def golden_path(model) -> Path:
    return GOLDEN / f"{model.module}_flax.py"


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_translation_matches_golden(model):
    translation = translate_source(model.path.read_text(), f"reference_models/{model.module}.py")
    assert translation.ok, translation.diagnostics
    path = golden_path(model)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(translation.code)
    assert translation.code == path.read_text()


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_translation_is_deterministic(model):
    source = model.path.read_text()
    assert translate_source(source).code == translate_source(source).code


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_golden_translation_is_equivalent(model):
    """The checked-in file itself (as a user would edit it) passes check through --flax."""
    report = check(
        model.path,
        model.class_name,
        [parse_spec(s) for s in model.inputs],
        model.kwargs,
        flax_source=golden_path(model),
        examples=3,
        stages=STAGES,  # spec, numeric and behavioral (3 SGD steps)
    )
    assert report.ok, report.to_json()


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_golden_has_no_torch_and_no_dead_imports(model):
    import ast

    tree = ast.parse(golden_path(model).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
            assert not any(a.name.startswith("torch") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("torch")
            imported |= {a.asname or a.name for a in node.names}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported <= used, imported - used
