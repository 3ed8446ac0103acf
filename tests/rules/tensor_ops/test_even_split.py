"""T018: `jnp.split(x, n, axis)` only where the pieces are provably equal; PyTorch's sizes everywhere else.

The catalogue draws some of T018's cases each run; these compare both sides of the line with
PyTorch on every run: a Linear's width that the count divides (numpy's own call), and widths it
does not (``chunk(4)`` of 6 is 3 pieces of 2, ``split(4)`` of 6 is 4 and 2).
"""

import pytest

from translator.equivalence.rule_cases import case_source, compare_case
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


# `a, b, c = x.split(n, d)`: PyTorch raises unless there are exactly as many pieces as names, so the
# boundaries are n, 2n, ... whatever the width (the last piece may be shorter); a width the
# translator cannot see is fine. A size held by a name that may be a list keeps the general form.
# (A module constant is such a name; an expression of it is one size.)
UNPACKED = [
    ((2, 9), "a, b, c = x.split(3, dim=1)", "jnp.split(x, [3, 6], axis=1)"),
    ((2, 8), "a, b, c = x.split(3, dim=1)", "jnp.split(x, [3, 6], axis=1)"),
    ((2, 7, 3), "a, b = torch.split(x, 4, 1)", "jnp.split(x, [4], axis=1)"),
    ((5, 3), "[a, b, c] = x.split(2)", "jnp.split(x, [2, 4], axis=0)"),
    ((2, 6), "(a,) = x.split(6, -1)", "jnp.split(x, [], axis=-1)"),
    ((2, 5), "a, b, c = x.split(WIDTH // 2, dim=1)", "jnp.split(x, [(WIDTH // 2), 2 * (WIDTH // 2)], axis=1)"),
]


def unpacking_case(shape, statement: str) -> RuleCase:
    names = statement.split(" = ")[0].strip("[]()").rstrip(",")
    prelude = f"WIDTH = 4\n\n\ndef pieces(x):\n    {statement}\n    return {names},\n"
    return RuleCase(None, "pieces(x)", shape, prelude=prelude)


def checked_translation(shape, statement: str) -> str:
    """The translation of ``statement`` in a function of the input, after checking it against PyTorch."""
    case = unpacking_case(shape, statement)
    compare_case(case)
    translation = translate_source(case_source(case), "case.py")
    assert translation.ok, translation.diagnostics
    return translation.code


@pytest.mark.parametrize(("shape", "statement", "expected"), UNPACKED)
def test_a_split_unpacked_into_names_writes_out_its_boundaries(shape, statement, expected):
    code = checked_translation(shape, statement)
    assert expected in code and "range(" not in code and "lambda" not in code


def test_a_split_by_a_field_that_may_hold_sizes_keeps_the_general_form():
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, sizes):\n        super().__init__()\n"
        "        self.sizes = tuple(sizes)\n\n    def forward(self, x):\n        a, b = x.split(self.sizes, 1)\n        return a\n"
    )
    translation = translate_source(source, "net.py")
    assert "isinstance(self.sizes_, int)" in translation.code  # `sizes_`: the field keeps `sizes`


# `a, b = x.chunk(n, d)`: as many pieces as names, each ceil(len / n) long but the last; the width
# may be one the translator cannot see (7 in 3 chunks: 3, 3, 1; 5 in 3 chunks: 2, 2, 1).
CHUNKS = [((2, 7), "a, b, c = x.chunk(3, 1)", "jnp.split(x, [(x.shape[1] + 2) // 3, 2 * ((x.shape[1] + 2) // 3)], axis=1)"),
          ((2, 5), "a, b, c = torch.chunk(x, 3, dim=-1)", "axis=-1"),
          ((4, 3), "a, b = x.chunk(2)", "jnp.split(x, [(x.shape[0] + 1) // 2], axis=0)"),
          ((2, 6), "a, b = x.chunk(WIDTH - 2, 1)", "-(-x.shape[1] // (WIDTH - 2))")]


@pytest.mark.parametrize(("shape", "statement", "expected"), CHUNKS)
def test_a_chunk_unpacked_into_names_ends_its_pieces_at_multiples_of_the_ceiling(shape, statement, expected):
    code = checked_translation(shape, statement)
    assert expected in code and "range(" not in code
