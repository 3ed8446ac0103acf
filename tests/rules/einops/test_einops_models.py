"""einops in whole models: a ViT-style patch embedding translated, ported and checked end to end.

The catalogue draws random einops calls one at a time (tests/rules/test_catalogue.py);
here they meet the rest of a model: `Rearrange` inside nn.Sequential before a
Linear, `rearrange`/`reduce` right after a Conv2d (whose output is NHWC in the
translation, so the pattern is rewritten instead of transposing back), `repeat`
of a class token, `pack`/`unpack`, `Reduce` pooling, and `EinMix` with weights.
"""

from __future__ import annotations

import textwrap

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

VIT_SOURCE = '''
import torch
import torch.nn as nn
from einops import pack, rearrange, reduce, repeat, unpack
from einops.layers.torch import EinMix, Rearrange, Reduce


class PatchEmbedding(nn.Module):
    def __init__(self, channels=3, dim=16, patch=4, classes=5):
        super().__init__()
        self.to_patch_embedding = nn.Sequential(
            Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=4, p2=4),
            nn.Linear(4 * 4 * channels, dim),
        )
        self.to_patches = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch, p2=patch)
        self.conv_embedding = nn.Conv2d(channels, dim, patch, stride=patch)
        self.conv_stem = nn.Sequential(nn.Conv2d(channels, dim, patch, stride=patch), Rearrange("b c h w -> b (h w) c"))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.mix = EinMix("b n d -> b n e", weight_shape="d e", bias_shape="e", d=dim, e=dim)
        self.head = nn.Sequential(Reduce("b n d -> b d", "mean"), nn.Linear(dim, classes))

    def forward(self, img):
        linear_tokens = self.to_patch_embedding(img)
        features = self.conv_embedding(img)
        conv_tokens = rearrange(features, "b c h w -> b (h w) c")
        pooled = reduce(features, "b c h w -> b c", "max")
        tokens = linear_tokens + conv_tokens + self.conv_stem(img) + self.to_patches(img).mean(dim=-1, keepdim=True)
        cls = repeat(self.cls_token, "() n d -> b n d", b=img.shape[0])
        x, shapes = pack([cls, tokens], "b * d")
        x = self.mix(x)
        cls, tokens = unpack(x, shapes, "b * d")
        return self.head(tokens) + cls[:, 0, :5] + pooled[:, :5]
'''


@pytest.fixture(scope="module")
def vit_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("einops") / "vit.py"
    path.write_text(textwrap.dedent(VIT_SOURCE))
    return path


def test_patch_embedding_translates_cleanly(vit_file):
    translation = translate_file(vit_file, notes=False)
    assert not translation.diagnostics, [d.format() for d in translation.diagnostics]
    code = translation.code.split("# Support code the rules above rely on")[0]  # the models, not the support code
    # the conv output is NHWC: the patterns name its axes in that order instead of transposing back
    assert '"b h w c -> b (h w) c"' in code
    assert '"b h w c -> b c"' in code
    assert "(0, 3, 1, 2)" not in code and "moveaxis" not in code  # no NHWC -> NCHW transpose anywhere
    # the only transposes: the image into each convolution (NCHW -> NHWC)
    assert code.count("jnp.transpose(") == code.count(", (0, 2, 3, 1))") == 2
    assert 'x = einops.rearrange(x, "b h w c -> b (h w) c")' in code  # Rearrange after a conv in nn.Sequential
    # constant lengths: the layer becomes a call where it is used; lengths from fields: einops' Flax layer
    assert 'einops.rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=4, p2=4)' in code
    assert 'einops_flax.Rearrange(' in code and '"p1": self.patch' in code
    assert "einops_flax.EinMix(" in code and "torch" not in code.replace("torch2flax", "")


def test_patch_embedding_is_equivalent(vit_file):
    """Outputs and gradients (input and every parameter, EinMix's included) match after porting."""
    report = check(vit_file, "PatchEmbedding", [parse_spec("float32[2,3,8,8]")], examples=2)
    assert report.ok, report.to_json()
