"""Convenience entry points over the pipeline, for scripts and notebooks."""

from __future__ import annotations

import os
from pathlib import Path

from translator.diagnostics import UsageError
from translator.rewrite.pipeline import Translation, translate_source


def translate_file(path: str | os.PathLike, notes: bool = True) -> Translation:
    """Translate a PyTorch model file; raises :class:`UsageError` for a missing file or bad source."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    return translate_source(file.read_text(), str(path), notes=notes)
