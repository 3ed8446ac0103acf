"""The temporal convolution network as locuslab/TCN writes it: weight_norm (rule L060), a Sequential of the
block's own attributes (one module under two names: ``conv1.weight_g`` is ``net.0.weight_g``) and an
``init_weights`` method called from ``__init__`` (rule S017). Translated from source and from the built model,
checked (eval and train, with the training steps), ported and exported back."""

from pathlib import Path

import numpy as np
import pytest
import torch

from translator import export_checkpoint, port_checkpoint
from translator.diagnostics import PortError, Severity
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.instance.translate import build_model, translate_built
from translator.rewrite.pipeline import translate_source
from translator.weights.plan import flatten_variables, plan_port

MODELS = str(Path(__file__).parent / "tcn_models.py")
KWARGS = {"num_inputs": 3, "num_channels": [8, 8]}
SPEC = "float32[2,3,16]"

pytestmark = pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")


def test_the_tcn_translates_from_source_sharing_the_blocks_layers():
    translation = translate_source(open(MODELS).read(), MODELS)
    assert not translation.errors, translation.errors
    code = translation.code
    # the Sequential holds the block's own layers: one Flax submodule each, no net_0
    assert "self.net = [\n            self.conv1,\n            self.chomp1," in code
    assert "self.head = [self.conv, nn.relu, None, self.fc]" in code  # nn.Flatten has no Flax object
    assert "self.repeated = [self.block, nn.tanh, self.block]" in code


def test_init_weights_is_reported_and_left_out_of_setup():
    translation = translate_source(open(MODELS).read(), MODELS)
    init_line = next(i for i, line in enumerate(open(MODELS), 1) if line.strip() == "self.init_weights()")
    reported = [d for d in translation.diagnostics if d.code == "S017"]
    assert [(d.line, d.severity) for d in reported] == [(init_line, Severity.WARNING)]
    message = reported[0].message
    assert "`self.init_weights()`" in message
    assert "Writing `self.conv1.weight`, `self.conv2.weight` has no effect even in PyTorch" in message
    assert "downsample" not in message  # a plain Conv1d: its initialisation is left out, as any other
    assert "init_weights" not in translation.code.split("# TODO(torch2flax): S017")[0].split("class TemporalBlock")[1]
    assert ".data.normal_" not in translation.code and "def init_weights" not in translation.code


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("built", [False, True])
def test_the_tcn_checks_in_both_modes_from_source_and_built(train, built):
    report = check(MODELS, "TemporalConvNet", [parse_spec(SPEC)], kwargs=KWARGS, examples=3, train=train,
                   build="TemporalConvNet(3, [8, 8])" if built else None)
    assert report.verdict == "pass", report.failure
    assert ("TemporalBlock.forward" in report.traced) == built
    assert [stage.status for stage in report.stages.values()] == ["passed"] * 3  # the training steps too


def test_shared_layers_check_from_source_and_built():
    for build in (None, "SharedLayers()"):
        report = check(MODELS, "SharedLayers", [parse_spec("float32[2,2,6,6]")], examples=3, build=build)
        assert report.verdict == "pass", report.failure


def test_the_built_model_writes_the_shared_layers_as_the_source_does():
    model = build_model(MODELS, "TemporalConvNet", build="TemporalConvNet(3, [8, 8])")
    source = translate_built(model, MODELS).regenerated.source
    assert ("self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1, self.conv2, self.chomp2, "
            "self.relu2, self.dropout2)") in source
    source = translate_built(build_model(MODELS, "SharedLayers"), MODELS).regenerated.source
    assert "self.repeated = nn.Sequential(self.block, nn.Tanh(), self.block)" in source


def test_the_port_maps_both_names_of_a_shared_tensor_to_one_variable():
    plan = plan_port(build_model(MODELS, "TemporalConvNet", kwargs=KWARGS))
    keys = {t.torch_key: t.flax_key for t in plan.tensors}
    assert keys["network.0.conv1.weight_g"] == "params/network_0/conv1/weight_g"
    assert keys["network.1.conv2.weight_v"] == "params/network_1/conv2/layer/kernel"
    assert not any(".net." in key for key in keys)
    tied = dict(plan.tied)
    assert tied["network.0.net.0.weight_g"] == "network.0.conv1.weight_g"
    assert tied["network.1.net.4.bias"] == "network.1.conv2.bias"
    assert len(tied) == 12  # g, v and bias of two convolutions in two blocks
    shared = {t.torch_key: t.flax_key for t in plan_port(build_model(MODELS, "SharedLayers")).tensors}
    assert "repeated.0.weight" not in shared and dict(plan_port(build_model(MODELS, "SharedLayers")).tied) == {
        "head.0.weight": "conv.weight", "head.0.bias": "conv.bias", "head.3.weight": "fc.weight", "head.3.bias": "fc.bias",
        "repeated.0.weight": "block.weight", "repeated.0.bias": "block.bias",
        "repeated.2.weight": "block.weight", "repeated.2.bias": "block.bias",
    }


@pytest.mark.parametrize("form", ["torch.save", "safetensors"])
def test_a_tcn_checkpoint_ports_and_exports_back(form, tmp_path):
    torch.manual_seed(0)
    model = build_model(MODELS, "TemporalConvNet", kwargs=KWARGS)
    state = model.state_dict()
    assert torch.equal(state["network.0.conv1.weight_g"], state["network.0.net.0.weight_g"])
    if form == "torch.save":
        checkpoint = tmp_path / "tcn.pt"
        torch.save(state, checkpoint)
    else:  # safetensors keeps one name of a shared tensor
        from safetensors.torch import save_model

        checkpoint = tmp_path / "tcn.safetensors"
        save_model(model, str(checkpoint))
    result = port_checkpoint(MODELS, "TemporalConvNet", checkpoint, tmp_path / "flax.safetensors", kwargs=KWARGS)
    flat = flatten_variables(result.variables)
    assert len(flat) == 14 and not any("net_" in key for key in flat)
    v = state["network.1.conv1.weight_v"].numpy()
    np.testing.assert_array_equal(flat["params/network_1/conv1/layer/kernel"], v.transpose(2, 1, 0))
    export_checkpoint(MODELS, "TemporalConvNet", tmp_path / "flax.safetensors", tmp_path / "back.pt", kwargs=KWARGS)
    back = torch.load(tmp_path / "back.pt")
    assert list(back) == list(state)  # both names of each shared tensor, in the model's order
    for key, value in state.items():
        assert torch.equal(back[key], value), key


def test_a_checkpoint_whose_two_names_of_one_tensor_differ_is_refused(tmp_path):
    state = build_model(MODELS, "TemporalConvNet", kwargs=KWARGS).state_dict()
    state["network.0.net.4.weight_g"] = state["network.0.net.4.weight_g"] + 1
    torch.save(state, tmp_path / "tcn.pt")
    with pytest.raises(PortError, match="network.0.net.4.weight_g differs from network.0.conv2.weight_g"):
        port_checkpoint(MODELS, "TemporalConvNet", tmp_path / "tcn.pt", tmp_path / "flax.safetensors", kwargs=KWARGS)


def test_a_module_shared_between_classes_of_the_built_model_is_reported(tmp_path):
    path = tmp_path / "cross.py"
    path.write_text(
        "import torch.nn as nn\n\n\nclass Inner(nn.Module):\n    def __init__(self, conv):\n        super().__init__()\n"
        "        self.conv = conv\n\n    def forward(self, x):\n        return self.conv(x) * 2\n\n\n"
        "class Outer(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv1d(2, 2, 1)\n"
        "        self.inner = Inner(self.conv)\n\n    def forward(self, x):\n        return self.inner(x) + self.conv(x)\n")
    built = translate_built(build_model(path, "Outer"), str(path))
    assert [(p.path, "the same Conv1d as `conv`" in p.message) for p in built.regenerated.problems] == [("inner.conv", True)]
    assert built.translation.errors
