"""T001/T014 on channels-last maps: `x.flatten(2).transpose(1, 2)` (a ViT's patch embedding, attention over a
U-Net's pixels) is one reshape of the channels-last map, with no transpose: (N, H, W, C) -> (N, H*W, C) is
PyTorch's (N, C, H*W) channels-last, and swapping its last two axes gives that array itself."""

from __future__ import annotations

import textwrap

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

SOURCE = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 2, stride=2)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        h = self.proj(x)
        tokens = {tokens}
        return self.norm(tokens)
"""


@pytest.mark.parametrize("tokens", [
    "h.flatten(2).transpose(1, 2)", "torch.flatten(h, 2).permute(0, 2, 1)", "h.flatten(2).swapaxes(-1, -2)",
    "h.flatten(start_dim=2).transpose(2, 1)",
])
def test_a_patch_embedding_is_one_reshape_of_the_channels_last_map(tokens, tmp_path):
    path = tmp_path / "patches.py"
    path.write_text(textwrap.dedent(SOURCE.format(tokens=tokens)))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    body = translation.code.split("def __call__", 1)[1].split("\n\n", 1)[0]
    assert "tokens = h.reshape(h.shape[0], -1, h.shape[-1])" in body, body
    assert body.count("jnp.transpose(") == 1  # the model's input only
    report = check(str(path), "Net", [parse_spec("float32[2,3,6,4]")], examples=2)
    assert report.ok, report.to_json()


def test_a_flatten_of_other_axes_keeps_pytorchs_feature_order(tmp_path):
    """`flatten(1)` feeds a Linear: its features are ordered (c, h, w), so the map goes back to NCHW first."""
    path = tmp_path / "head.py"
    path.write_text(textwrap.dedent(SOURCE.format(tokens="h.flatten(1)")).replace("nn.LayerNorm(8)", "nn.Linear(48, 4)"))
    translation = translate_file(str(path))
    body = translation.code.split("def __call__", 1)[1]
    assert "jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1)" in body, body
