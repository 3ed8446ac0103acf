"""Every reference model: translated cleanly, ported from a real checkpoint file, checked in train mode.

(Eval-mode equivalence of the checked-in golden translations is in tests/golden.)
"""

import numpy as np
import pytest
import torch

from reference_models import CATALOGUE
from translator.equivalence.check import STAGES, check
from translator.equivalence.specs import parse_spec
from translator.loading import class_from, import_source
from translator.rewrite.pipeline import translate_source
from translator.weights.checkpoint import load_variables
from translator.weights.plan import flatten_variables
from translator.weights.port import port_checkpoint


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_translates_without_diagnostics(model):
    translation = translate_source(model.path.read_text(), str(model.path))
    assert not translation.diagnostics, [d.format() for d in translation.diagnostics]


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_port_from_checkpoint_file(model, tmp_path):
    torch_model = class_from(import_source(model.path), model.class_name, "test")(**model.kwargs)
    checkpoint = tmp_path / "model.pt"
    torch.save(torch_model.state_dict(), checkpoint)
    result = port_checkpoint(model.path, model.class_name, checkpoint, tmp_path / "model.safetensors", model.kwargs)
    written = flatten_variables(load_variables(tmp_path / "model.safetensors"))
    assert len(written) == len(result.plan.tensors)
    state = torch_model.state_dict()
    for tensor in result.plan.tensors:
        expected = tensor.transform.to_flax(state[tensor.torch_key].numpy())
        assert np.array_equal(written[tensor.flax_key], expected), tensor.torch_key


CHEAP_TRAIN_BEHAVIORAL = {"MLP", "SimpleCNN", "LeNet5", "Generator", "Discriminator", "GPT", "LSTMLanguageModel", "VAE"}


@pytest.mark.parametrize("model", CATALOGUE, ids=lambda m: m.class_name)
def test_train_mode_equivalence(model):
    """Batch statistics, running-statistic updates and gradients match in training mode."""
    # the behavioral stage in train mode where it is cheap (measured ~30 s for these; ~134 s for all)
    stages = STAGES if model.class_name in CHEAP_TRAIN_BEHAVIORAL else ("spec", "numeric")
    report = check(model.path, model.class_name, [parse_spec(s) for s in model.inputs_for(train=True)], model.kwargs, examples=2,
                   train=True, stages=stages)
    assert report.ok, report.to_json()
