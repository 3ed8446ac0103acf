"""Smoke test on model files nobody here wrote: translating them must not crash.

Translation only (no numeric check), on a few files of the trial packages
(``benchmarks/third_party_trial.py`` runs the full trial). Skipped where the packages
are not installed. A file may translate with diagnostics -- that is a legitimate
outcome -- but every diagnostic must point at a line of the file, and the output must
be valid Python.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from translator.api import translate_file

# (package, file): small files covering the common shapes of third-party model code
FILES = [
    ("vit_pytorch", "simple_vit.py"),  # einops, sin-cos positional table in a module-level function
    ("vit_pytorch", "simple_vit_3d.py"),  # F.pad in a module-level helper (was a KeyError in L014)
    ("vit_pytorch", "deepvit.py"),  # ModuleList of [attn, ff] pairs unpacked in forward
    ("mlp_mixer_pytorch", "mlp_mixer_pytorch.py"),  # a model built by a function returning nn.Sequential
]


def package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it.

    vit-pytorch's ``__init__`` imports torchvision, which may not import next to a CPU torch, so
    ``pytest.importorskip("vit_pytorch")`` would skip an installed package.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"trial package {name} is not installed (pip install --no-deps {name.replace('_', '-')})")
    return Path(list(spec.submodule_search_locations)[0])


def installed(package: str, file: str) -> Path:
    path = package_dir(package) / file
    if not path.is_file():
        pytest.skip(f"{path} is not in this version of {package}")
    return path


@pytest.mark.parametrize(("package", "file"), FILES, ids=[f"{p}/{f}" for p, f in FILES])
def test_translates_without_crash(package, file, tmp_path):
    # a loose copy, as the trial stages files: the rules are under test here, not the package layout
    path = Path(shutil.copy(installed(package, file), tmp_path / file))
    lines = path.read_text().count("\n") + 1
    translation = translate_file(path)
    compile(translation.code, f"{file} (translated)", "exec")
    for diagnostic in translation.diagnostics:
        assert diagnostic.code and diagnostic.message
        assert Path(diagnostic.path).name == file and 1 <= diagnostic.line <= lines, diagnostic.format()


def test_installed_file_in_place():
    """A file inside site-packages: other installed packages (einops) are never taken for the project's own."""
    translation = translate_file(installed("vit_pytorch", "simple_vit.py"))
    compile(translation.code, "simple_vit.py (translated)", "exec")


def test_efficientnet_utils_translates(tmp_path):
    pytest.importorskip("efficientnet_pytorch")
    path = Path(shutil.copy(installed("efficientnet_pytorch", "utils.py"), tmp_path / "utils.py"))
    translation = translate_file(path)
    compile(translation.code, "utils.py (translated)", "exec")
    assert "MemoryEfficientSwish" in translation.classes
