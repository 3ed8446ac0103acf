"""L030: a dropout configured off (a literal `p=0`, what a built model's trace writes for diffusers' blocks) is
its input: no setup line, no `deterministic` argument, no `train` flag it alone would need."""

from __future__ import annotations

import textwrap

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

SOURCE = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.off = nn.Dropout(0.0)
        self.off2d = nn.Dropout2d(p=0)
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        h = self.off(self.fc(x))
        return self.off2d(self.conv(h[:, :, None, None]))
"""


def test_a_dropout_of_rate_zero_is_its_input_and_needs_no_train_flag(tmp_path):
    path = tmp_path / "off.py"
    path.write_text(textwrap.dedent(SOURCE))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    assert "nn.Dropout" not in translation.code and "train" not in translation.code.split("def __call__", 1)[1]
    for train in (False, True):
        report = check(str(path), "Net", [parse_spec("float32[3,4]")], examples=2, train=train)
        assert report.ok, report.to_json()


def test_a_dropout_whose_rate_is_an_argument_stays_a_layer(tmp_path):
    path = tmp_path / "on.py"
    path.write_text(textwrap.dedent(SOURCE).replace("nn.Dropout(0.0)", "nn.Dropout(p)").replace(
        "def __init__(self):", "def __init__(self, p=0.0):"))
    translation = translate_file(str(path))
    assert "nn.Dropout(rate=self.p)" in translation.code and "deterministic=not train" in translation.code
