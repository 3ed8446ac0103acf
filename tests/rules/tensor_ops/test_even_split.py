"""T018: `jnp.split(x, n, axis)` only where the pieces are provably equal; PyTorch's sizes everywhere else.

The catalogue draws some of T018's cases each run; these compare both sides of the line with
PyTorch on every run: a Linear's width that the count divides (numpy's own call), and widths it
does not (``chunk(4)`` of 6 is 3 pieces of 2, ``split(4)`` of 6 is 4 and 2).
"""

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase

EVEN = [("nn.Linear(3, 6)", "chunk(3, -1)"), ("nn.Linear(3, 2 * 4)", "chunk(2, dim=-1)"), ("nn.Linear(3, 3 * 2)", "split(2, -1)"),
        ("nn.Linear(3, 6)", "split(3, dim=-1)"), ("nn.Linear(3, 3 * 2)", "split(3, -1)")]
UNEVEN = [("nn.Linear(3, 6)", "chunk(4, -1)"), ("nn.Linear(3, 7)", "chunk(3, -1)"), ("nn.Linear(3, 6)", "split(4, -1)"),
          ("nn.Linear(3, 3 * 2)", "split(4, -1)")]


@pytest.mark.parametrize(("layer", "call"), EVEN + UNEVEN)
def test_split_of_a_linear_output_matches_pytorch(layer, call):
    compare_case(RuleCase(layer, f"self.layer(x).{call}", (2, 3)))


def emitted(layer: str, call: str) -> str:
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.layer = {layer}\n\n    def forward(self, x):\n        return self.layer(x).{call}\n"
    )
    translation = translate_source(source, "net.py")
    assert translation.ok, translation.diagnostics
    return translation.code


@pytest.mark.parametrize(("layer", "call"), EVEN)
def test_equal_pieces_are_numpys_own_call(layer, call):
    code = emitted(layer, call)
    assert "jnp.split(self.layer(x), " in code and "range(" not in code


@pytest.mark.parametrize(("layer", "call"), UNEVEN)
def test_pieces_not_proved_equal_keep_pytorchs_sizes(layer, call):
    assert "range(" in emitted(layer, call)


def test_another_axis_keeps_pytorchs_sizes():
    assert "range(" in emitted("nn.Linear(3, 6)", "chunk(3, 0)")
