"""T061: an `if` decided by `torch.jit.is_scripting()` and its kin keeps only the branch eager PyTorch runs."""

from __future__ import annotations

import textwrap

import pytest

from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source

MODEL = """\
import torch
import torch.nn as nn
from torch.jit import is_scripting


class Net(nn.Module):
    def __init__(self, checkpointing=False):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.checkpointing = checkpointing

    def forward(self, x):
{body}
"""

FORMS = {
    # (forward body, a line the translation must hold, text it must not hold)
    "shortened": ("if self.checkpointing and not torch.jit.is_scripting():\n    x = x * 2.0\nreturn self.fc(x)",
                  "if self.checkpointing:", "False"),
    "else kept": ("if torch.jit.is_scripting():\n    y = x.frobnicate()\nelse:\n    y = x + 1.0\nreturn self.fc(y)",
                  "y = x + 1.0", "frobnicate"),
    "elif chain": ("if is_scripting():\n    y = x.frobnicate()\nelif self.checkpointing:\n    y = x * 3.0\nelse:\n    y = x\n"
                   "return self.fc(y)", "if self.checkpointing:", "frobnicate"),
    "decided elif": ("if self.checkpointing:\n    y = x * 3.0\nelif torch.compiler.is_compiling():\n    y = x.frobnicate()\n"
                     "elif not torch.jit.is_tracing():\n    y = x - 1.0\nelse:\n    y = x.frobnicate()\nreturn self.fc(y)",
                     "else:\n            y = x - 1.0", "frobnicate"),
    "early return": ("if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():\n    return x.frobnicate()\nreturn self.fc(x)",
                     "return self.fc(x)", "frobnicate"),
}


def source(body: str) -> str:
    return MODEL.format(body=textwrap.indent(body, " " * 8))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_decided_tests_keep_the_eager_branch(form, tmp_path):
    body, held, absent = FORMS[form]
    translation = translate_source(source(body), "net.py")
    assert translation.ok, translation.diagnostics
    call = translation.code.split("def __call__", 1)[1]
    assert held in call and absent not in call, call
    path = tmp_path / "net.py"
    path.write_text(source(body))
    for kwargs in ({}, {"checkpointing": True}):
        report = check(str(path), "Net", [parse_spec("float32[2,4]")], kwargs=kwargs, examples=1, stages=("spec", "numeric"))
        assert report.ok, (form, kwargs, report.to_json())


def test_an_undecided_test_is_left_alone():
    translation = translate_source(source("if self.checkpointing:\n    x = x * 2.0\nreturn self.fc(x)"), "net.py")
    assert "if self.checkpointing:" in translation.code


NOTE = "# T061: an `if` decided by whether PyTorch is compiling or scripting"


@pytest.mark.parametrize("body, above", [
    # the kept branch is empty: the note goes above the next statement that emits code
    ("if torch.jit.is_scripting():\n    x = x.frobnicate()\nreturn self.fc(x)", "return self.fc(x)"),
    # the last statement of a loop's body: above the loop
    ("for _ in range(2):\n    x = x * 2.0\n    if torch.jit.is_tracing():\n        x = x.frobnicate()\nreturn self.fc(x)",
     "for _ in range(2):"),
    # nothing else in the loop's body: above the `pass` that stands for it
    ("for _ in range(2):\n    if torch.jit.is_tracing():\n        x = x.frobnicate()\nreturn self.fc(x)", "pass"),
])
def test_the_note_of_a_branch_left_empty_is_kept(body, above):
    translation = translate_source(source(body), "net.py")
    assert translation.ok, translation.diagnostics
    lines = [line.strip() for line in translation.code.split("def __call__", 1)[1].splitlines()]
    note = next(i for i, line in enumerate(lines) if line.startswith(NOTE))
    assert lines[note + 1] == above and "frobnicate" not in translation.code
