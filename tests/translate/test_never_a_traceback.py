"""Never a traceback: every model file we have, mutated copies of them, and the model files of any
installed trial package go through ``translate``; the only outcomes are a translation (whose code
parses, or which says ``I001`` where it does not) or a one-line usage error.  A crash of the tool
itself exits 3, a failure inside the rewriter is ``I001`` at the definition it failed on."""

from __future__ import annotations

import ast
import importlib.util
import random
from pathlib import Path

import pytest

from tests.conftest import run_cli
from translator.diagnostics import UsageError
from translator.rewrite import pipeline
from translator.rewrite.pipeline import INTERNAL, translate_source

ROOT = Path(__file__).resolve().parents[2]
OWN_FILES = sorted(
    [p for p in (ROOT / "reference_models").glob("*.py") if p.name != "__init__.py"]
    + sorted((ROOT / "examples").glob("*.py"))
    + sorted(p for p in (ROOT / "tests" / "instance" / "zoo").rglob("*.py") if p.name != "__init__.py")
)
#: installed trial packages whose model files join the corpus (when present)
TRIAL_PACKAGES = ("vit_pytorch", "efficientnet_pytorch", "mlp_mixer_pytorch", "densenet_pytorch")
MUTANTS_PER_FILE = 3


def trial_files() -> list[Path]:
    files = []
    for name in TRIAL_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            files += sorted(p for p in Path(next(iter(spec.submodule_search_locations))).glob("*.py") if p.name != "__init__.py")
    return files


def mutants(source: str, seed: int) -> list[str]:
    """Copies with a line deleted, a line duplicated, or two neighbouring lines swapped (some do not parse)."""
    rng = random.Random(seed)
    lines = source.splitlines()
    out = []
    for _ in range(MUTANTS_PER_FILE):
        copy = list(lines)
        i = rng.randrange(len(copy))
        kind = rng.choice(("delete", "duplicate", "swap"))
        if kind == "delete":
            del copy[i]
        elif kind == "duplicate":
            copy.insert(i, copy[i])
        elif i + 1 < len(copy):
            copy[i], copy[i + 1] = copy[i + 1], copy[i]
        out.append("\n".join(copy) + "\n")
    return out


def translates_or_refuses(source: str, where: str) -> None:
    try:
        translation = translate_source(source, where)
    except UsageError:
        return  # a one-line message, exit 2
    codes = {d.code for d in translation.diagnostics}
    try:
        ast.parse(translation.code)
    except SyntaxError:
        assert INTERNAL in codes, f"{where}: the emitted code does not parse and nothing says so"


@pytest.mark.parametrize("path", OWN_FILES + trial_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_model_file_and_its_mutants_translate_or_are_refused(path):
    source = path.read_text()
    translates_or_refuses(source, str(path))
    count = MUTANTS_PER_FILE if path in OWN_FILES else 1  # installed packages: every file, one mutant each
    for number, mutant in enumerate(mutants(source, hash(path.name) % 1000)[:count]):
        translates_or_refuses(mutant, f"{path.name} (mutant {number})")


def test_a_list_concatenation_split_over_two_lines_translates():
    """The rewrite drops `nn.ModuleList(...)` around `[a] +\\n [b ...]` (notebook.py's CellStack): the line
    break needs brackets; the concatenated container's elements are S005, and check takes the built model."""
    translation = translate_source((ROOT / "tests" / "instance" / "zoo" / "notebook.py").read_text(), "notebook.py")
    assert INTERNAL not in {d.code for d in translation.diagnostics}, translation.diagnostics
    ast.parse(translation.code)
    assert "[TorchLSTMCell(" in translation.code


def test_a_failure_inside_the_rewriter_is_located_and_the_tool_crash_exits_3(monkeypatch, capsys, tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n")

    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "translate_class", broken)
    translation = translate_source(path.read_text(), str(path))
    [diagnostic] = [d for d in translation.diagnostics if d.code == INTERNAL]
    assert diagnostic.line == 4 and "RuntimeError: boom" in diagnostic.message
    code, _, err = run_cli(capsys, "translate", path, "-o", tmp_path / "out.py")
    assert code == 1 and "I001" in err

    monkeypatch.setattr(pipeline, "translate_source", broken)
    monkeypatch.setattr("translator.cli.read_source", broken)
    code, _, err = run_cli(capsys, "translate", path, "-o", tmp_path / "crash.py")
    assert code == 3 and "internal error: RuntimeError: boom" in err and not (tmp_path / "crash.py").exists()
