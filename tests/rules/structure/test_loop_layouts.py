"""S004/S005 in loops: a value each pass carries is moved channels-last once, before the loop; a value the loop
leaves behind unread is not moved back; a loop over a slice or `reversed` of a container runs its elements."""

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
    def __init__(self, ch=4, depth=3):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(ch, ch, 3, padding=1) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(ch) for _ in range(depth)])
        self.seqs = nn.ModuleList([nn.Sequential(nn.Conv2d(ch, ch, 1), nn.ReLU()) for _ in range(depth)])
        self.lins = nn.ModuleList([nn.Linear(ch, ch), nn.Linear(ch, ch), nn.Linear(ch, 5)])

    def forward(self, x):
        {body}
"""

BODIES = {
    # the model's input carried through residual passes: one transpose before the loop, one at the end
    "carried": """
        for conv, norm in zip(self.convs, self.norms):
            x = x + torch.relu(norm(conv(x)))
        return x
    """,
    # slices and reversed(): the elements they select; `h` is left behind unread
    "slices": """
        for s in self.seqs[1:]:
            x = s(x)
        for s in reversed(self.seqs):
            h = s(x)
            x = x + h
        y = x.mean((2, 3))
        for lin in self.lins[:-1]:
            y = torch.relu(lin(y))
        return self.lins[-1](y)
    """,
}


def written(tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.py"
    body = textwrap.indent(textwrap.dedent(BODIES[name]).strip(), " " * 8).lstrip()
    path.write_text(MODEL.format(body=body))
    return str(path)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_loops_move_a_carried_value_once_and_check(name, tmp_path):
    path = written(tmp_path, name)
    translation = translate_file(path)
    assert translation.ok, translation.diagnostics
    call = translation.code.split("def __call__", 1)[1].split("# Support code")[0]
    loop_start = call.index("        for ")
    assert call[:loop_start].count("jnp.transpose(") == 1, call  # before the first loop, once
    assert call.count("jnp.transpose(") == (2 if name == "carried" else 1), call  # and back at the return
    assert "h = jnp.transpose(h" not in call, call  # `h` is not read after its pass: not moved back
    assert "S004: a value each pass reads and rebinds is moved channels-last once" in call, call
    report = check(path, "Net", [parse_spec("float32[2,4,6,6]")], examples=2)
    assert report.ok, report.to_json()
