"""The pytest helper users call in their own tests."""

import numpy as np
import pytest
import torch

from reference_models import CATALOGUE
from translator import assert_equivalent
from translator.loading import class_from, import_source, module_from_code
from translator.rewrite.pipeline import translate_source
from translator.weights.port import port_state_dict

LENET = next(m for m in CATALOGUE if m.class_name == "LeNet5")


def models():
    torch.manual_seed(0)
    torch_model = class_from(import_source(LENET.path), "LeNet5", "test")().eval()
    flax_class = module_from_code(translate_source(LENET.path.read_text()).code, "lenet_assert").LeNet5
    state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    _, variables = port_state_dict(torch_model, state)
    return torch_model, flax_class(), variables


def test_passes_on_a_correct_port():
    torch_model, flax_model, variables = models()
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert_equivalent(torch_model, flax_model, variables, x)


def test_fails_on_wrong_weights():
    torch_model, flax_model, variables = models()
    variables["params"]["fc2"]["kernel"] = variables["params"]["fc2"]["kernel"] * 1.01
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with pytest.raises(AssertionError, match="differs"):
        assert_equivalent(torch_model, flax_model, variables, x)
