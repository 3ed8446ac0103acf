"""The rewriter's line map: which Flax lines each PyTorch statement became.

The map is recorded when statements are emitted (``translate_source(..., line_map=True)``); the
code must be exactly what ``translate`` writes (the golden files), and each block must pair a
statement with the lines that translate it.
"""

from __future__ import annotations

import ast
from itertools import pairwise

import pytest

from tests.explain.shared import (
    REFERENCE,
    ROOT,
    SEED_CNN,
    SEED_MLP,
    WITH_DIAGNOSTICS,
    mapped,
    mapped_text,
)
from translator.naming import resolve
from translator.rewrite.line_map import LineMarks, LineSpan, read_back, source_span


@pytest.mark.parametrize("relative", REFERENCE)
def test_mapped_translation_is_the_golden_file(relative):
    """Asking for the map changes no byte of the output (the markers are all stripped)."""
    golden = ROOT / "tests" / "golden" / f"{relative.split('/')[-1][:-3]}_flax.py"
    translation = mapped(relative)
    assert translation.code == golden.read_text()
    assert "@t2f:" not in translation.code


@pytest.mark.parametrize("relative", [*REFERENCE, SEED_CNN, SEED_MLP])
def test_blocks_are_disjoint_and_inside_both_files(relative):
    translation = mapped(relative)
    source_lines = (ROOT / relative).read_text().splitlines()
    flax_lines = translation.code.splitlines()
    blocks = sorted(translation.line_map, key=lambda b: b.flax.first)
    assert blocks, "no statement was mapped"
    for block in blocks:
        assert block.path == relative
        assert 1 <= block.source.first <= block.source.last <= len(source_lines)
        assert 1 <= block.flax.first <= block.flax.last <= len(flax_lines)
        assert source_lines[block.source.first - 1].strip(), "a block starts on a blank source line"
        assert flax_lines[block.flax.last - 1].strip() and not flax_lines[block.flax.last - 1].lstrip().startswith("#")
    for before, after in pairwise(blocks):
        assert before.flax.last < after.flax.first


def flax_of(translation, source_line: int) -> list[str]:
    lines = translation.code.splitlines()
    return [lines[n - 1].strip() for b in translation.line_map if source_line in b.source for n in b.flax.lines()]


def test_seed_cnn_statements_map_to_their_translation():
    translation = mapped(SEED_CNN)
    source = (ROOT / SEED_CNN).read_text().splitlines()
    line = {text.strip(): n for n, text in enumerate(source, 1)}
    assert flax_of(translation, line["self.fc1 = nn.Linear(64 * 8 * 8, 128)"]) == [
        "# L001: Linear(in, out) -> Dense(out): Flax infers `in` from the input; kernel = weight.T",
        "self.fc1 = nn.Dense(128)",
    ]
    assert flax_of(translation, line["x = torch.relu(self.conv1(x))"])[-1] == "x = nn.relu(self.conv1(jnp.transpose(x, (0, 2, 3, 1))))"
    assert flax_of(translation, line["def forward(self, x):"]) == ["# S002: forward -> __call__", "def __call__(self, x):"]
    # the constructor's signature became both the dataclass field and `setup`
    assert flax_of(translation, line["def __init__(self, num_classes):"]) == ["num_classes: int", "def setup(self):"]


def test_compound_statements_map_their_header_and_each_body_statement():
    translation = mapped_text(WITH_DIAGNOSTICS)
    assert flax_of(translation, 14) == ["if jnp.sum(y) > 0:"]
    assert flax_of(translation, 15) == ["y = nn.relu(y)"]
    # the TODO of the construct not translated stands in the block of its line
    assert flax_of(translation, 13) == ["# TODO(torch2flax): X001 no rule translates `torch.stft`", "z = torch.stft(y, 4)"]


def test_a_multi_line_statement_maps_all_its_lines():
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = nn.Sequential(\n            nn.Linear(4, 8),\n            nn.ReLU(),\n        )\n\n"
        "    def forward(self, x):\n        return self.body(x)\n"
    )
    translation = mapped_text(source, "net.py")
    spans = {b.source for b in translation.line_map}
    assert LineSpan(7, 10) in spans
    assert LineSpan(4, 4) in spans


def test_header_span_leaves_out_comments_before_the_body():
    source = "def f(x,\n      y):\n    # a comment\n\n    return x\n"
    resolved = resolve(source)
    function = resolved.module.body[0]
    assert source_span(resolved.positions, function, source.splitlines()) == LineSpan(1, 2)


def test_read_back_strips_markers_and_measures_blocks():
    marks = LineMarks(["a = 1", "b = 2"])
    first, second = marks.comment(LineSpan(1, 1)), marks.comment(LineSpan(2, 2))
    code = f"{first.comment.value}\nx = (\n    1\n)\n\n{second.comment.value}\n# note\ny = 2\nz = 3\n"
    clean, found = read_back(code, marks)
    assert clean == "x = (\n    1\n)\n\n# note\ny = 2\nz = 3\n"
    ast.parse(clean)
    assert found == [(0, LineSpan(1, 3)), (1, LineSpan(5, 7))]


def test_a_comment_that_looks_like_a_marker_of_another_translation_is_kept():
    marks = LineMarks([])
    code = "# @t2f:00000000:0\nx = 1\n"
    assert read_back(code, marks) == (code, [])
