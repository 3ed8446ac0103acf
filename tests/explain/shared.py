"""Translations the explain tests share: each file is translated once per test process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from translator.rewrite.pipeline import Translation, translate_source

ROOT = Path(__file__).resolve().parents[2]
SEED_CNN = "examples/seed_cnn.py"
SEED_MLP = "examples/seed_mlp.py"
REFERENCE = tuple(sorted(f"reference_models/{p.name}" for p in (ROOT / "reference_models").glob("*.py") if p.name != "__init__.py"))

#: a file with an error (a construct not translated) and a warning (weight initialisation left out)
WITH_DIAGNOSTICS = '''import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        y = self.proj(x)
        z = torch.stft(y, 4)
        if y.sum() > 0:
            y = torch.relu(y)
        return y + z
'''


@cache
def mapped(relative: str) -> Translation:
    """The translation of a file of the repository, with its line map."""
    return translate_source((ROOT / relative).read_text(), relative, line_map=True)


@cache
def mapped_text(source: str, path: str = "gate.py") -> Translation:
    return translate_source(source, path, line_map=True)
