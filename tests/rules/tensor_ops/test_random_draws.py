"""T023's translated draws, each compared in train mode with PyTorch's draws replayed into the translation."""

from __future__ import annotations

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase
from translator.rules.tensor_ops.random import REPLAYED_FORMS


@pytest.mark.parametrize("form", REPLAYED_FORMS)
def test_each_translated_draw_matches_pytorch_with_its_values_replayed(form):
    compare_case(RuleCase("nn.Identity()", f"self.layer({form})", (3, 4), train=True), 0)


def test_in_place_sampler_reads_its_receivers_shape_without_writing_it_twice():
    source = (
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n"
        "        keep = x.new_empty((x.shape[0], 1)).bernoulli_(0.8)\n"
        "        return x * keep + torch.zeros(x.shape, dtype=x.dtype).normal_(0, 2.0)\n"
    )
    code = translate_source(source, "m.py").code
    assert "jax.random.bernoulli(self.make_rng(\"noise\"), 0.8, (x.shape[0], 1)).astype(x.dtype)" in code
    assert "2.0 * jax.random.normal(self.make_rng(\"noise\"), x.shape, x.dtype)" in code
