"""S004 in loops: each pass starts and ends with every value in PyTorch's layout, and so must every other way
out of the body. A `continue` or `break` taken while a value is channels-last moves it back first (before this
they left it channels-last, and the next pass, or the code after the loop, read its axes wrongly: the
`continue` model below failed `check`, the `break` one could not even be ported). A branch that ends in a jump
does not take part in the layouts after its `if`."""

from __future__ import annotations

import textwrap

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

MODEL = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 3, 3, padding=1) for _ in range(3)])

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == 1:
                {jump}
            x = x[:, :, 1:, :] * 2.0
        return x.flatten(1)
"""


@pytest.mark.parametrize("jump", ["continue", "break"])
def test_a_jump_out_of_a_loop_body_leaves_pytorchs_layout(jump, tmp_path):
    path = tmp_path / f"{jump}.py"
    path.write_text(MODEL.format(jump=jump))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    expected = textwrap.indent(f"if i == 1:\n    x = jnp.transpose(x, (0, 3, 1, 2))\n    {jump}\n", " " * 12)
    assert expected in translation.code
    report = check(str(path), "Net", [parse_spec("float32[2,3,8,8]")], examples=2)
    assert report.ok, report.to_json()


def test_a_branch_that_returns_leaves_the_layout_after_the_if_to_the_other_branch(tmp_path):
    path = tmp_path / "early.py"
    path.write_text(textwrap.dedent("""\
        import torch
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 3, 3, padding=1)
                self.out = nn.Conv2d(3, 2, 1)

            def forward(self, x, early: bool = False):
                y = self.conv(x)
                if early:
                    y = y.flatten(1)
                    return y
                return self.out(y)
        """))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    body = translation.code.split("def __call__", 1)[1].split("# Support code")[0]
    # in, before the flatten, out: none appended after the `return`, none moving `y` back and forth for `self.out`
    assert body.count("jnp.transpose(") == 3, body
    report = check(str(path), "Net", [parse_spec("float32[2,3,6,6]")], examples=2)
    assert report.ok, report.to_json()


KEPT = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 3, padding=1)
        self.convs = nn.ModuleList([nn.Conv2d(3, 3, 3, padding=1) for _ in range(3)])

    def forward(self, x):
        x = self.stem(x)
        for i, conv in enumerate(self.convs):
            if i == 1:
                x = x.transpose(2, 3) * 0.5
                {jump}
            x = conv(x)
        return x.flatten(1)
"""


@pytest.mark.parametrize("jump", ["continue", "break"])
def test_a_loop_that_keeps_a_value_channels_last_gets_it_back_so_at_a_jump(jump, tmp_path):
    """The loop keeps `x` channels-last from pass to pass (each pass ends with a convolution); the branch
    that jumps computes it in PyTorch's layout and moves it channels-last before leaving."""
    path = tmp_path / f"kept_{jump}.py"
    path.write_text(KEPT.format(jump=jump))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    body = translation.code.split("def __call__", 1)[1].split("# Support code")[0]
    assert "            x = conv(x)\n" in body, body  # no transpose around the convolution in the loop
    assert f"x = jnp.transpose(x, (0, 2, 3, 1))\n                {jump}" in body, body
    report = check(str(path), "Net", [parse_spec("float32[2,3,6,6]")], examples=2)
    assert report.ok, report.to_json()
