"""Weight normalisation (rule L060) and parametrizations: translated from source and from the built model,
checked against PyTorch (outputs and gradients, those of weight_g and weight_v included), and ported."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from translator import export_checkpoint, port_checkpoint
from translator.equivalence.check import build_pair, check
from translator.equivalence.specs import parse_spec
from translator.instance.translate import UNEXPRESSIBLE, build_model, translate_built
from translator.rewrite.pipeline import translate_source
from translator.weights.plan import flatten_variables, plan_port

MODELS = Path(__file__).parent / "weight_norm_models.py"

pytestmark = pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")


def test_temporal_block_translates_from_source_and_matches_with_gradients_of_g_and_v():
    text = MODELS.read_text()
    translation = translate_source(text, str(MODELS))
    parametrized = text[:text.index("class L2Norm")].count("\n")  # from there on: register_parametrization (reported)
    assert not [d for d in translation.errors if d.line < parametrized], translation.errors
    assert "self.conv1 = TorchWeightNorm(\n            nn.Conv(" in translation.code
    assert "class TorchWeightNorm(nn.Module)" in translation.code
    for train in (False, True):
        pair, _ = build_pair(MODELS, "TemporalBlock", [parse_spec("float32[2,3,16]")], seed=0, train=train)
        x = np.random.default_rng(1).standard_normal((2, 3, 16)).astype(np.float32)
        comparison = pair.compare_in_mode((x,), cotangent_seed=1, state_seed=1)
        for name in ("conv1.weight_g", "conv1.weight_v", "conv2.weight_g", "conv2.weight_v"):
            assert f"grad:{name}" in comparison.compared
            assert comparison.per_parameter[name].max_rel < 1e-6, (name, comparison.per_parameter[name])
        assert comparison.output.max_rel < 1e-6 and comparison.grad_input.max_rel < 1e-6
        assert not comparison.uncompared


@pytest.mark.parametrize("class_name, spec", [("TemporalConvNet", "float32[2,3,16]"), ("NewApi", "float32[2,2,3,4]")])
def test_weight_norm_checks_from_source_and_from_the_built_model(class_name, spec):
    source = check(MODELS, class_name, [parse_spec(spec)], examples=2, stages=("spec", "numeric"))
    assert source.verdict == "pass", source.failure
    assert not source.traced  # the source translation, as written
    built = check(MODELS, class_name, [parse_spec(spec)], examples=2, stages=("spec", "numeric"), build=f"{class_name}()")
    assert built.verdict == "pass", built.failure
    assert f"{class_name}.forward" in built.traced


def test_the_built_model_writes_weight_norm_as_the_source_does():
    for build, expected in [
        ("TemporalBlock()", "self.conv1 = torch.nn.utils.weight_norm(nn.Conv1d(in_channels=3, out_channels=6, "
                            "kernel_size=3, padding=4, dilation=2))"),
        ("NewApi()", "self.conv = torch.nn.utils.parametrizations.weight_norm(nn.Conv2d(in_channels=2, out_channels=3, "
                     "kernel_size=3, padding=1), dim=1)"),
        ("NewApi()", "self.fc = torch.nn.utils.parametrizations.weight_norm(nn.Linear(in_features=4, out_features=5), "
                     "dim=None)"),
    ]:
        built = translate_built(build_model(MODELS, None, build=build), str(MODELS))
        assert expected in built.regenerated.source
        assert not built.regenerated.problems and not built.translation.errors, built.translation.errors


def test_parametrizations_of_the_users_translate_from_the_built_model():
    """NormLinear's L2Norm, and a chain of two parametrizations (one with a parameter) on a Conv1d: the layer
    is written as the chain applied to its original tensor and its functional form; the source stops at
    register_parametrization, so check translates the built model."""
    report = check(MODELS, "Parametrized", [parse_spec("float32[2,7,6]")], examples=2, stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure
    assert {"L2Norm.forward", "Scaled.forward", "Parametrized.forward"} <= set(report.traced)
    model = build_model(MODELS, "Parametrized")
    source = translate_built(model, str(MODELS)).regenerated.source
    assert "weight = self.weight_parametrizations[1](self.weight_parametrizations[0](self.weight_original))" in source
    assert "torch.nn.functional.conv1d(input, weight, self.bias, stride=(1,), padding=(1,)" in source
    keys = {t.torch_key: t.flax_key for t in plan_port(model, built=True).tensors}
    assert keys["conv.parametrizations.weight.original"] == "params/conv/weight_original"
    assert keys["conv.parametrizations.weight.1.scale"] == "params/conv/weight_parametrizations_1/scale"
    assert keys["a.linear.parametrizations.weight.original"] == "params/a/linear/weight_original"


@pytest.mark.parametrize("class_name", ["TemporalBlock", "NewApi"])
def test_a_weight_normed_checkpoint_ports_and_exports_back(class_name, tmp_path):
    torch.manual_seed(0)
    model = build_model(MODELS, class_name)
    state = model.state_dict()
    torch.save(state, tmp_path / "model.pt")
    result = port_checkpoint(MODELS, class_name, tmp_path / "model.pt", tmp_path / "model.safetensors")
    flat = flatten_variables(result.variables)
    assert all("/" not in name for key in flat for name in key.split("/")[1:])  # flat checkpoints keep the tree
    if class_name == "TemporalBlock":
        v, g = state["conv1.weight_v"].numpy(), state["conv1.weight_g"].numpy()  # [out, in, k], [out, 1, 1]
        np.testing.assert_array_equal(flat["params/conv1/layer/kernel"], v.transpose(2, 1, 0))
        np.testing.assert_array_equal(flat["params/conv1/weight_g"], g.transpose(2, 1, 0))
        np.testing.assert_array_equal(flat["params/conv1/layer/bias"], state["conv1.bias"].numpy())
    else:
        g = state["fc.parametrizations.weight.original0"].numpy()  # dim=None: one norm, a 0-d g
        assert g.shape == () and flat["params/fc/weight_g"].shape == ()
        np.testing.assert_array_equal(flat["params/conv/weight_g"],
                                      state["conv.parametrizations.weight.original0"].numpy().transpose(2, 3, 1, 0))
    export_checkpoint(MODELS, class_name, tmp_path / "model.safetensors", tmp_path / "back.pt")
    back = torch.load(tmp_path / "back.pt")
    assert set(back) == set(state)
    for key, value in state.items():
        assert torch.equal(back[key], value), key


@pytest.mark.parametrize("line, message", [
    ("self.fc = weight_norm(nn.Linear(4, 4), name='bias')", "a tensor other than `weight`"),
    ("self.fc = weight_norm(nn.Embedding(4, 4))", "around an nn.Linear, nn.ConvNd or nn.ConvTransposeNd"),
    ("self.fc = weight_norm(nn.Linear(4, 4), dim=self.dim)", "`dim` must be a constant"),
])
def test_what_weight_norm_does_not_translate_is_reported(line, message):
    source = ("import torch.nn as nn\nfrom torch.nn.utils import weight_norm\n\n\nclass M(nn.Module):\n"
              f"    def __init__(self, dim=0):\n        super().__init__()\n        {line}\n\n"
              "    def forward(self, x):\n        return self.fc(x)\n")
    reported = [d for d in translate_source(source, "m.py").errors if d.code == "L060"]
    assert reported and message in reported[0].message, reported


def test_a_hook_of_the_users_beside_weight_norm_is_still_reported(tmp_path):
    path = tmp_path / "hooked.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.utils.weight_norm(nn.Linear(4, 4))\n"
        "        self.fc.register_forward_hook(lambda module, args, out: out * 2)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        translation = translate_built(build_model(path, "M"), str(path)).translation
    assert any(d.code == UNEXPRESSIBLE and "hooks are not translated" in d.message for d in translation.errors)
