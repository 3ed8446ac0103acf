"""Writes through a view (rules S011/X006): a write into memory a forward argument shares is never silent.

PyTorch's ``w = x.view(-1); w[0] = 0`` changes ``x`` too; the translation rebinds ``w`` only. So a write
through a view of an argument -- or of any tensor another name still reads -- is reported (X006) at the
write, as it already was for a view of a local; where nothing reads the old memory again (the view is what
is returned, or the argument is itself rebound: ``x += 1; return x``), it is translated, and computes
the same.
"""

from __future__ import annotations

import textwrap

import pytest

from translator.equivalence.rule_cases import case_source, compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase

HEADER = "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x, flag: bool = True):\n"

#: ways of taking a view of the argument `x` (a (2, 4) tensor)
VIEWS = (
    "x.view(-1)", "x.unfold(1, 2, 1)", "x[:, 0]", "x[1]", "x[:, 1:3]", "x.transpose(0, 1)", "x.reshape(-1)",
    "x.narrow(1, 0, 2)", "x.select(1, 0)", "x.squeeze()", "x.unsqueeze(0)", "x.t()", "x.T", "x.diagonal()",
    "x.expand(3, 2, 4)", "x.as_strided((2,), (1,))", "x.flatten()", "x.permute(1, 0)", "x.detach()",
    "x.chunk(2)[0]", "torch.narrow(x, 1, 0, 2)", "torch.transpose(x, 0, 1)", "x.view(2, -1).t()[0]",
)
#: in-place writes into the view `w`
WRITES = (
    "w[0] = 0.0", "w.add_(1.0)", "w += 1.0", "w.zero_()", "w.mul_(2.0)", "w.clamp_(min=0.0)", "w.fill_(2.0)",
    "torch.relu_(w)", "w[w > 0] = 0.0", "w -= x.sum()",
)


def forward_source(body: str, header: str = HEADER) -> str:
    return header + textwrap.indent(textwrap.dedent(body).strip() + "\n", " " * 8)


def x006_lines(source: str) -> list[int]:
    return [d.line for d in translate_source(source, "case.py").diagnostics if d.code == "X006"]


def line_of(source: str, statement: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if line.strip() == statement)


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("read", ["return x", "return w.sum() + x.sum()"])
def test_a_write_through_a_view_of_an_argument_read_afterwards_is_reported_at_the_write(view, read):
    write = WRITES[VIEWS.index(view) % len(WRITES)]
    source = forward_source(f"w = {view}\n{write}\n{read}")
    assert x006_lines(source) == [line_of(source, write)], source


@pytest.mark.parametrize("write", WRITES)
def test_every_in_place_write_into_a_view_of_an_argument_is_reported(write):
    source = forward_source(f"w = x.view(-1)\n{write}\nreturn x * 2")
    assert x006_lines(source) == [line_of(source, write)], source


@pytest.mark.parametrize("body, write", [
    # the view of a local was already reported: the same rule for a view of an argument
    ("h = x * 2\nw = h.view(-1)\nw[0] = 0.0\nreturn h", "w[0] = 0.0"),
    # another name for the argument's memory, read after a write into the argument
    ("y = x\nx += 1.0\nreturn y", "x += 1.0"),
    ("y = x[0]\nx.mul_(2.0)\nreturn y", "x.mul_(2.0)"),
    ("v = x.view(-1)\nx[0] = 0.0\nreturn v", "x[0] = 0.0"),
    # two views of the same argument
    ("a = x[0]\nb = x.view(-1)\nb.zero_()\nreturn a", "b.zero_()"),
    # the argument rebound in one branch only: on the other path the view is of the argument
    ("if flag:\n    x = x * 2\nw = x.view(-1)\nw[0] = 0.0\nreturn x", "w[0] = 0.0"),
    ("if flag:\n    pass\nelse:\n    x = x * 2\nw = x.view(-1)\nw[0] = 0.0\nreturn x", "w[0] = 0.0"),
    # in a loop: the next pass reads the argument again
    ("for i in range(2):\n    w = x[i]\n    w += 1.0\nreturn x", "w += 1.0"),
    # a list holding a view (`outs[0].add_(1.0)` as a statement is X004, a discarded result)
    ("outs = [x.view(-1)]\ny = outs[0].add_(1.0)\nreturn x + y", "y = outs[0].add_(1.0)"),
    # a write through a view, as the value of an assignment
    ("y = x.view(-1).mul_(2.0)\nreturn x", "y = x.view(-1).mul_(2.0)"),
])
def test_a_write_another_name_of_the_argument_sees_is_reported(body, write):
    source = forward_source(body)
    assert line_of(source, write) in x006_lines(source), source


def test_a_write_through_a_view_of_module_state_is_reported():
    source = (
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.register_buffer('table', torch.zeros(2, 4))\n\n    def forward(self, x):\n"
        "        w = self.table.view(-1)\n        w[0] = 1.0\n        return x + self.table\n"
    )
    assert line_of(source, "w[0] = 1.0") in x006_lines(source)


INNER = """\
class Inner(nn.Module):
    def forward(self, x):
{body}
"""
PARENT = """\
import torch
import torch.nn as nn


{inner}

class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
{body}
"""


def parent_source(inner_body: str, parent_body: str) -> str:
    inner = INNER.format(body=textwrap.indent(textwrap.dedent(inner_body).strip(), " " * 8))
    return PARENT.format(inner=inner, body=textwrap.indent(textwrap.dedent(parent_body).strip(), " " * 8))


@pytest.mark.parametrize("inner_body", [
    "w = x.view(-1)\nw.add_(1.0)\nreturn w",
    "w = x[:, 0]\nw[0] = 0.0\nreturn w * 2",
    "x += 1.0\nreturn x",
])
def test_a_submodule_writing_into_its_argument_is_reported_where_the_caller_reads_it_again(inner_body):
    reads = parent_source(inner_body, "h = x * 1.0\ny = self.inner(h)\nreturn y.sum() + h.sum()")
    assert line_of(reads, "y = self.inner(h)") in x006_lines(reads), reads
    via_view = parent_source(inner_body, "h = x * 1.0\nv = h[0]\ny = self.inner(h)\nreturn y.sum() + v.sum()")
    assert line_of(via_view, "y = self.inner(h)") in x006_lines(via_view), via_view
    own_argument = parent_source(inner_body, "y = self.inner(x)\nreturn y.sum() + x.sum()")
    assert line_of(own_argument, "y = self.inner(x)") in x006_lines(own_argument), own_argument
    rebinds = parent_source(inner_body, "h = x * 1.0\nh = self.inner(h)\nreturn h")
    assert x006_lines(rebinds) == [], rebinds


@pytest.mark.parametrize("body", [
    # writes into the argument itself, the argument then rebound: the function's result is the same
    "x[0] = 0.0\nreturn x",
    "x.add_(1.0)\nreturn x",
    "x += 1.0\nreturn x",
    # the written view is all that is read afterwards
    "w = x.view(-1)\nw[0] = 0.0\nreturn w",
    # reading only the argument's shape, which no write changes
    "w = x.view(-1)\nw[0] = 0.0\nreturn w.view(x.shape)",
    "w = x.view(-1)\nw.add_(1.0)\nreturn w.view(x.size(0), -1) + x.ndim",
    # the argument rebound before the write: the view is of a new tensor nobody else reads
    "x = x * 2\nw = x.view(-1)\nw[0] = 0.0\nreturn w",
])
def test_a_write_nobody_else_sees_is_translated_without_x006(body):
    assert x006_lines(forward_source(body)) == []


def inner_case(body: str, shape: tuple[int, ...] = (3, 4)) -> RuleCase:
    """``Inner``'s forward is ``body``; the case's forward hands it a fresh tensor (an input leaf that requires
    grad cannot be written into in PyTorch)."""
    prelude = INNER.format(body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8))
    return RuleCase("Inner()", "self.layer(x * 1.0)", shape, prelude=prelude)


@pytest.mark.parametrize("body", [
    "w = x.view(-1)\nw[0] = 0.0\nreturn w.view(x.shape) * 2.0",
    "w = x[:, 1:]\nw.add_(1.0)\nw *= 3.0\nreturn w",
    "w = x.t()\nw.clamp_(min=0.0)\nreturn w @ w.t()",
    "x[:, 0] = 0.0\nx += 1.0\nx.mul_(2.0)\nreturn x",
    "w = x.transpose(0, 1)\nw[1] = 2.0\nreturn w.reshape(x.size(0), -1)",
])
def test_a_translated_write_into_an_argument_or_its_view_computes_what_pytorch_does(body):
    case = inner_case(body)
    assert x006_lines(case_source(case)) == [], case_source(case)
    compare_case(case)
