"""``check`` at its edges: a model without parameters, a translation that fails only under jit, the user's own
checkpoint (``--weights``), and a checkpoint that does not fit."""

import textwrap

import pytest
import torch
from test_broken_translations import BATCH_NORM  # noqa: E402  (pytest puts this folder on sys.path)

from translator.diagnostics import PortError
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

NO_PARAMETERS = textwrap.dedent(
    """
    import torch.nn as nn


    class Pool(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(2)
            self.act = nn.GELU()

        def forward(self, x):
            return self.act(self.pool(x))[:, :, 1:]
    """
)

MASKED_SUM = textwrap.dedent(
    """
    import torch.nn as nn


    class Mask(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            y = self.fc(x)
            return y.clamp(min=0).sum()
    """
)

MASKED_SUM_FLAX = textwrap.dedent(
    """
    import flax.linen as nn
    import jax.numpy as jnp


    class Mask(nn.Module):
        @nn.compact
        def __call__(self, x):
            y = nn.Dense(4, name="fc")(x)
            return jnp.sum(y[y > 0])  # boolean-mask indexing: a data-dependent shape
    """
)

def test_a_model_without_parameters_has_nothing_to_train(tmp_path):
    source = tmp_path / "pool.py"
    source.write_text(NO_PARAMETERS)
    report = check(source, "Pool", [parse_spec("float32[B,2,4,4]")], examples=2)
    assert report.ok and report.behavioral.nothing_to_train
    assert report.to_json()["stages"]["behavioral"]["note"] == "no parameters: nothing to train"


def test_a_translation_that_fails_only_under_jit_says_so(tmp_path):
    source, flax = tmp_path / "mask.py", tmp_path / "mask_flax.py"
    source.write_text(MASKED_SUM)
    flax.write_text(MASKED_SUM_FLAX)
    report = check(source, "Mask", [parse_spec("float32[3,4]")], flax_source=flax, examples=1)
    assert report.verdict == "fail" and report.stage == "spec"
    assert "runs eagerly but fails under jax.jit" in report.failure


def test_check_with_the_users_checkpoint(tmp_path):
    """``weights=``: both models hold the checkpoint (no trained-like state replaces it)."""
    source = tmp_path / "bn.py"
    source.write_text(BATCH_NORM)
    namespace = {}
    exec(BATCH_NORM, namespace)
    model = namespace["B"]()
    with torch.no_grad():
        model.bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        model.bn.running_var.copy_(torch.tensor([0.1, 4.0, 0.5]))
    checkpoint = tmp_path / "b.pt"
    torch.save(model.state_dict(), checkpoint)
    report = check(source, "B", [parse_spec("float32[4,4]")], examples=2, stages="spec,numeric", weights=checkpoint)
    assert report.ok and report.state == str(checkpoint)
    broken = tmp_path / "b_flax.py"
    from translator.rewrite.pipeline import translate_source

    code = translate_source(BATCH_NORM, str(source)).code
    old = "mean, var = running_mean.value, running_var.value"
    assert old in code
    broken.write_text(code.replace(old, "mean, var = 0 * running_mean.value, running_var.value"))
    failing = check(source, "B", [parse_spec("float32[4,4]")], flax_source=broken, examples=1, stages="spec,numeric",
                    weights=checkpoint)
    assert failing.verdict == "fail" and failing.divergence.torch_module == "bn"


def test_a_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    source = tmp_path / "bn.py"
    source.write_text(BATCH_NORM)
    checkpoint = tmp_path / "wrong.pt"
    torch.save({"fc.weight": torch.zeros(3, 4), "extra.weight": torch.zeros(2)}, checkpoint)
    with pytest.raises(PortError) as error:
        check(source, "B", [parse_spec("float32[4,4]")], examples=1, weights=checkpoint)
    assert "fc.bias" in str(error.value) and "extra.weight" in str(error.value)
