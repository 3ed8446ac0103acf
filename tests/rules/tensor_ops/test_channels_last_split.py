"""T018 on a convolution's output unpacked into names (`a, b = self.conv(x).chunk(2, dim=1)`, a gated
convolution): the pieces are cut where the channel axis lives and stay channels-last, so the next
convolution takes them with no transpose; anything else the pieces feed gets PyTorch's layout back.
Each model is translated, its transposes counted, and checked against PyTorch (outputs and gradients)."""

from __future__ import annotations

import textwrap

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

HEADER = "import torch\nimport torch.nn as nn\n\n\n"

MODELS = {
    # even pieces proved from the convolution's width: numpy's own call
    "gated": ("""
        class Net(nn.Module):
            def __init__(self, c=3):
                super().__init__()
                self.conv = nn.Conv2d(c, 2 * c, 3, padding=1)
                self.out = nn.Conv2d(c, c, 1)

            def forward(self, x):
                a, b = self.conv(x).chunk(2, dim=1)
                return self.out(a * b.sigmoid())
        """, "float32[2,3,5,4]", "jnp.split(self.conv(jnp.transpose(x, (0, 2, 3, 1))), 2, axis=-1)", 2),
    # a width that 2 does not divide: PyTorch's pieces (3 and 2), cut channels-last (sizes read off the value)
    "uneven": ("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 5, 1)
                self.left = nn.Conv2d(3, 2, 1)
                self.right = nn.Conv2d(2, 2, 1)

            def forward(self, x):
                a, b = self.conv(x).chunk(2, dim=-3)
                return self.left(a) + self.right(b)
        """, "float32[2,2,3,3]", "[(_v.shape[-1] + 1) // 2], axis=-1", 2),
    # split by a size and by sections, rank 3 (Conv1d), and a piece that leaves the channels-last world
    "sections": ("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv1d(2, 6, 3, padding=1)
                self.mix = nn.Conv1d(2, 2, 1)

            def forward(self, x):
                a, b, c = self.conv(x).split(2, 1)
                d, e = torch.split(self.conv(x), [1, 5], dim=1)
                return self.mix(a) * b + c.mean(1, keepdim=True) + d + e[:, :2]
        """, "float32[2,2,7]", "jnp.split(self.conv(jnp.transpose(x, (0, 2, 1))), [1], axis=-1)", 4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_unpacked_pieces_of_a_conv_output_stay_channels_last_and_match_pytorch(name, tmp_path):
    body, spec, expected, transposes = MODELS[name]
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    model_code = translation.code.split("# Support code")[0]
    assert expected in model_code
    if expected.startswith("jnp.split("):  # a size the code proves: no value named in a lambda
        assert "lambda" not in model_code
    if transposes is not None:  # into the convolutions of the input, out of the result: none in between
        assert model_code.count("jnp.transpose(") == transposes
    report = check(str(path), "Net", [parse_spec(spec)], examples=2)
    assert report.ok, report.to_json()


def test_pieces_not_unpacked_keep_pytorchs_layout(tmp_path):
    path = tmp_path / "kept.py"
    path.write_text(HEADER + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 4, 1)

            def forward(self, x):
                pieces = self.conv(x).chunk(2, dim=1)
                return pieces[0] - pieces[1]
        """))
    translation = translate_file(str(path))
    assert translation.ok and "(0, 3, 1, 2)" in translation.code
    report = check(str(path), "Net", [parse_spec("float32[2,2,3,3]")], examples=2)
    assert report.ok, report.to_json()


def test_pieces_unpacked_into_a_nested_target_keep_pytorchs_layout(tmp_path):
    """A nested unpacking iterates a piece's first axis: only names take the pieces channels-last."""
    path = tmp_path / "nested.py"
    path.write_text(HEADER + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                    "        self.conv = nn.Conv2d(2, 6, 1)\n\n    def forward(self, x):\n"
                    "        (a, b), c = self.conv(x).chunk(2, dim=1)\n        return a + b + c\n")
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    assert "(0, 3, 1, 2)), 2, axis=1" in translation.code  # back to PyTorch's layout, then split
    report = check(str(path), "Net", [parse_spec("float32[2,2,2,3]")], examples=2)
    assert report.ok, report.to_json()
