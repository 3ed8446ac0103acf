"""S004 where a PyTorch-layout operand meets a channels-last map in an elementwise op. When the small operand's
rank is known to be the map's (a gate from ``y.view(b, c, 1, 1)``, ``emb[:, :, None, None]`` of a Linear's
rank-2 output), it is the one moved channels-last (a subscript that only adds axes is written permuted:
``emb[:, None, None, :]``), and the map keeps its layout; ``y.expand_as(x)`` beside ``x`` is left to the
op's broadcasting (T016). Before, the map went back to PyTorch's layout, and, in an SE block, was transposed
twice more. A rank the code does not spell (a parameter, a loop that changes it, branches that disagree) is
never guessed."""

from __future__ import annotations

import libcst as cst
import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.rewrite.body.expressions import indexed_rank, least_indexed_rank, permuted_subscript
from translator.rules.tensor_ops.reshape import shape_rank

MODELS = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class SqueezeExcite(nn.Module):
    def __init__(self, c: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.fc1 = nn.Linear(c, c // 2)
        self.fc2 = nn.Linear(c // 2, c)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, _, _ = x.size()
        y = F.adaptive_avg_pool2d(x, 1).view(b, c)
        y = torch.sigmoid(self.fc2(F.relu(self.fc1(y)))).view(b, c, 1, 1)
        return self.out(x * y.expand_as(x))


class Gate(nn.Module):
    def __init__(self, c: int = 6):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.fc = nn.Linear(c, c)
        self.conv2 = nn.Conv2d(c, c, 1)

    def forward(self, x):
        h = self.conv(x)
        v = self.fc(h.mean((2, 3)))
        g = torch.sigmoid(v).view(v.shape[0], -1, 1, 1)
        h = h * g + v[:, :, None, None]
        return self.conv2(h - v.reshape((v.shape[0], v.shape[1], 1, 1)).expand_as(h))


class RankChanges(nn.Module):
    def __init__(self, c: int = 6):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x, t):
        h = self.conv(x)
        s = h.mean((2, 3))
        for _ in range(2):
            s = s[:, :, None]
        if x.shape[0] > 1:
            u = s.view(s.shape[0], s.shape[1], 1, 1)
        else:
            u = s.view(s.shape[0], s.shape[1], 1)
        return h + s + u + t[:, :, None, None]
'''


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    path = tmp_path_factory.mktemp("broadcast") / "models.py"
    path.write_text(MODELS)
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    return path, translation.code


def method(code: str, cls: str) -> str:
    return code.split(f"class {cls}(")[1].split("\nclass ")[0]


def test_the_gate_moves_and_the_map_stays_channels_last(translated):
    path, code = translated
    se = method(code, "SqueezeExcite")
    assert "x * jnp.transpose(y, (0, 2, 3, 1))" in se and "broadcast_to" not in se
    assert se.count("(0, 3, 1, 2)") == 2  # the pooled vector (1x1) and the output: none of the map in between
    gate = method(code, "Gate")
    assert "v[:, None, None, :]" in gate
    assert gate.count("(0, 3, 1, 2)") == 1  # the output only
    for cls in ("SqueezeExcite", "Gate"):
        report = check(str(path), cls, [parse_spec("float32[2,8,5,5]" if cls == "SqueezeExcite" else "float32[2,6,5,5]")],
                       examples=3)
        assert report.ok, report.to_json()


def test_a_rank_the_code_does_not_spell_is_not_guessed(translated):
    path, code = translated
    body = method(code, "RankChanges")
    assert "jnp.transpose(h, (0, 3, 1, 2)) + s" in body and "t[:, :, None, None]" in body
    report = check(str(path), "RankChanges", [parse_spec("float32[2,6,5,5]"), parse_spec("float32[2,6]")], examples=3)
    assert report.ok, report.to_json()


def subscript(text: str) -> cst.Subscript:
    return cst.parse_expression(text)


@pytest.mark.parametrize("text, base, rank", [
    ("e[:, :, None, None]", 2, 4), ("e[0]", 3, 2), ("e[..., None]", 2, 3), ("e[:, -1]", 3, 2),
    ("e[idx]", 2, None), ("e[:, :, :]", 2, None), ("e[:, None]", None, None),
])
def test_indexed_rank(text, base, rank):
    assert indexed_rank(base, subscript(text).slice) == rank


@pytest.mark.parametrize("text, expected", [
    ("e[:, :, None, None]", "e[:, None, None, :]"), ("e[None, :, :, None]", None), ("e[:, 0, None, None]", None),
    ("e[:, 1:, None, None]", "e[:, None, None, 1:]"),
])
def test_permuted_subscript_keeps_each_slice_on_its_own_axis(text, expected):
    permuted = permuted_subscript(subscript(text), (0, 2, 3, 1))
    assert (None if permuted is None else cst.Module([]).code_for_node(permuted)) == expected


@pytest.mark.parametrize("call, rank", [
    ("x.view(b, c, 1, 1)", 4), ("x.view((b, c))", 2), ("x.view(-1)", 1), ("x.view(*s)", None), ("x.view(s)", None),
    ("x.view(s + (1,))", None),
])
def test_shape_rank_counts_only_spelled_sizes(call, rank):
    node = cst.parse_expression(call)
    args = node.args
    starred = any(a.star for a in args)
    shape = cst.Tuple([cst.StarredElement(a.value) if a.star else cst.Element(a.value) for a in args])
    elements = [e.value for e in shape.elements]
    assert shape_rank(shape, elements) == (None if starred else rank)


@pytest.mark.parametrize(("index", "least"), [
    ("v[:, :, None, None]", 4), ("v[:, None]", 2), ("v[0, :, None]", 2), ("v[..., None]", None), ("v[i, None]", None),
])
def test_least_indexed_rank_counts_the_axes_a_subscript_spells(index, least):
    node = cst.parse_expression(index)
    assert least_indexed_rank(node.slice) == least
