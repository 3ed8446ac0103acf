"""The built model as the oracle (translator.instance): model code whose source says little about what
it builds is translated from the built instance, checked against the original, and ported; what the
built model cannot express is reported at the user's line, never passed through."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import run_cli
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.instance.constructors import UnrecoverableLayer, layer_call
from translator.instance.translate import UNEXPRESSIBLE, build_model, translate_built
from translator.weights.port import port_checkpoint

ZOO = Path(__file__).parent / "zoo"
NOTEBOOK = ZOO / "notebook.py"
LIBRARY = ZOO / "models" / "resnetish.py"

LAYERS = [
    nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.Conv2d(3, 8, (3, 1)), nn.Conv1d(4, 4, 3, groups=4, padding_mode="reflect", padding=1),
    nn.ConvTranspose2d(4, 2, 4, 2, 1), nn.BatchNorm2d(8, eps=1e-3, momentum=0.01), nn.LayerNorm(6, bias=False),
    nn.Linear(4, 5, bias=False), nn.GELU("tanh"), nn.Dropout(0.2), nn.Embedding(10, 4, padding_idx=0),
    nn.LSTM(4, 8, 2, batch_first=True), nn.GRU(3, 4, bidirectional=True), nn.RNN(3, 4, nonlinearity="relu"),
    nn.MultiheadAttention(8, 2, batch_first=True), nn.MaxPool2d((2, 2)), nn.AvgPool2d(3, 2, 1, count_include_pad=False),
    nn.Upsample(scale_factor=2, mode="bilinear"), nn.GroupNorm(2, 8), nn.Hardtanh(-0.5, 0.5), nn.PReLU(4),
    # composite layers: their arguments are read back from their children
    nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, activation="gelu"), nn.TransformerDecoderLayer(8, 2, 16, norm_first=True),
    nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8), enable_nested_tensor=False),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: type(layer).__name__)
def test_a_torch_layer_is_rebuilt_by_its_proved_constructor_call(layer):
    rebuilt = eval(layer_call(layer), {"nn": nn})
    assert repr(rebuilt) == repr(layer)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in layer.state_dict().items()}


@pytest.mark.parametrize("layer", [nn.TransformerEncoderLayer(8, 2, 16, activation=lambda t: t * 2),
                                   nn.Embedding.from_pretrained(torch.zeros(3, 2))],
                         ids=["activation-lambda", "frozen"])
def test_a_layer_whose_call_cannot_be_proved_is_refused(layer):
    with pytest.raises(UnrecoverableLayer):
        layer_call(layer)


def test_a_library_model_built_by_factories_checks_from_the_built_model():
    """Factories re-exported by a subpackage, activations by name, lists grown in a helper, a config
    dataclass, a nested def and dict operations in forward: the source stops; the built model passes."""
    report = check(LIBRARY, "ResNetish", [parse_spec("float32[2,3,16,16]")], examples=2, stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure
    assert "ResNetish.forward" in report.traced and any(m.startswith("Unit") for m in report.traced)
    assert len(report.compared) > 20


@pytest.mark.parametrize("class_name, spec", [
    ("PositionalEncoding", "float32[2,5,8]"),  # a table filled by slice assignment, numpy on a constant
    ("InitInHelper", "float32[2,4,6,6]"),  # nn.init in a helper, Parameter in a lambda, computed pad, Sequential(*layers)
    ("Router", "float32[3,8]"),  # a config object's attributes, ModuleDict .items() in forward
    ("TinyTransformer", "int64[2,5]:0..11"),  # a plain-attribute table and torch's TransformerEncoder
    ("CellStack", "float32[2,4]"),  # a ModuleList of two concatenated lists, split over two lines
    ("ScaleMixture", "float32[2,7]"),  # a ParameterList grown by append, a ParameterDict read as attributes by fx
    ("CachedAttention", "float32[2,5,8]"),  # `cache.update(k, v)` on an optional cache object, traced at cache=None
])
def test_notebook_patterns_check_from_the_built_model(class_name, spec):
    report = check(NOTEBOOK, class_name, [parse_spec(spec)], examples=2, stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure
    assert f"{class_name}.forward" in report.traced


def test_a_module_passed_to_the_constructor_is_built_with_build(capsys):
    code, out, _ = run_cli(capsys, "check", NOTEBOOK, "--build", "LoRALinear(nn.Linear(6, 5), rank=2)",
                           "--input", "float32[3,6]", "--examples", "2", "--json")
    result = json.loads(out)
    assert code == 0 and result["verdict"] == "pass" and result["class"] == "LoRALinear"
    assert result["traced"] == ["LoRALinear.forward"]


@pytest.mark.parametrize("build, message, line", [
    ("Hooked()", "hooks are not translated", "self.fc.register_forward_pre_hook"),
    ("DataDependent()", "torch.fx cannot trace it", "if x.sum() > 0:"),
    ("FrozenDraw()", "draws random numbers", "def forward(self, x):"),
])
def test_what_the_built_model_cannot_express_is_reported_at_the_users_line(build, message, line):
    model = build_model(NOTEBOOK, None, build=build)
    translation = translate_built(model, str(NOTEBOOK)).translation
    reported = [d for d in translation.errors if d.code == UNEXPRESSIBLE and message in d.message]
    assert reported, translation.diagnostics
    lines = NOTEBOOK.read_text().splitlines()
    assert any(line in lines[d.line - 1] or line in "\n".join(lines[d.line - 1:d.line + 2]) for d in reported), reported


def test_translate_with_a_class_falls_back_and_says_so(capsys, tmp_path):
    out = tmp_path / "resnetish_flax.py"
    code, _, err = run_cli(capsys, "translate", LIBRARY, "--class", "ResNetish", "-o", out)
    assert code == 0, err
    assert "translated from the built model" in err and "its source translation cannot express" in err  # why
    text = out.read_text()
    assert "Translated from the built `ResNetish`" in text and "class Unit(nn.Module)" in text
    # four Units of two kinds (with and without a shortcut) are two classes whose sizes are arguments
    assert "class Unit_2(nn.Module)" in text and "class Unit_3" not in text
    assert "Unit(in_channels=3, out_channels=8)" in text and "Unit(in_channels=8, out_channels=16)" in text
    code, _, _ = run_cli(capsys, "translate", LIBRARY, "-o", tmp_path / "plain.py")
    assert code == 1  # without --class: the source translation, as before


def test_port_carries_the_constants_the_state_dict_does_not_hold(tmp_path):
    model = build_model(NOTEBOOK, "PositionalEncoding")
    checkpoint = tmp_path / "pe.pt"
    torch.save(model.state_dict(), checkpoint)
    assert "pe" not in model.state_dict()
    result = port_checkpoint(NOTEBOOK, "PositionalEncoding", checkpoint, tmp_path / "pe.msgpack")
    np.testing.assert_array_equal(result.variables["buffers"]["pe"], model.pe.numpy())
    np.testing.assert_array_equal(result.variables["params"]["proj"]["kernel"], model.proj.weight.detach().numpy().T)


def test_check_of_a_saved_built_translation_ports_its_constants(capsys, tmp_path):
    flax_file = tmp_path / "pe_flax.py"
    code, _, _ = run_cli(capsys, "translate", NOTEBOOK, "--class", "PositionalEncoding", "-o", flax_file)
    # fx's slice(...) calls written as slices, and its `size = x.size(1)` where it is read
    assert code == 0 and "pe[:, : x.shape[1]]" in flax_file.read_text()
    report = check(NOTEBOOK, "PositionalEncoding", [parse_spec("float32[2,5,8]")], flax_source=flax_file, examples=1,
                   stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure


SUBCLASSES = ZOO / "subclasses.py"


@pytest.mark.parametrize("class_name, specs, build", [
    ("Block", ["float32[2,4,6,6]"], None),  # holds a Sequential subclass: ported and translated as a Sequential
    ("ConvAct", ["float32[2,4,6,6]"], None),  # the Sequential subclass itself, as the model
    ("Child", ["float32[2,4]"], None),  # a subclass of a model class of the file (not in the source translation)
    ("OptArg", ["float32[2,5,16]", "float32[2,16]"], "OptArg()"),  # forward(x, emb=None) called with emb
    ("FP32LayerNorm", ["float32[2,3,8]"], "FP32LayerNorm(8)"),  # a subclass of a torch layer with its own forward
    ("SkipIfGiven", ["float32[2,4]", "float32[2,4]"], "SkipIfGiven()"),  # torch.jit.isinstance on a traced tensor
    ("Projected", ["float32[2,4,5,5]"], None),  # `project=True` and `self.project`: no `project_` rename when built
    ("MetadataDecisions", ["float32[2,8,3,3]"], "MetadataDecisions()"),  # device, dtype and rank read when traced
    ("MetadataDecisions", ["float32[2,5,8]"], "MetadataDecisions()"),  # the other rank: another program
    ("DeprecatedArguments", ["float32[2,5,8]"], "DeprecatedArguments()"),  # *args/**kwargs no caller fills: traced empty
    ("EncoderBlocks", ["float32[2,8]"], "EncoderBlocks()"),  # children called with constants: traced with them fixed
    ("MidBlock", ["float32[2,8]", "float32[2,8]"], "MidBlock()"),  # keywords every caller passes into **kwargs
    ("FirFilter", ["float32[2,4,6,6]"], "FirFilter()"),  # `.to(x.dtype)`: the dtype read when traced, written as one
    ("TokenMixer", ["float32[2,5,8]"], "TokenMixer()"),  # einops layers by their call; torch.as_tensor of a tensor
    ("EinopsFunctions", ["float32[2,5,8]"], "EinopsFunctions()"),  # einops functions recorded as calls
    ("DeviceMoves", ["int64[2,5]:0..11"], "DeviceMoves()"),  # `.to(x.device)`, `device=x.device`: dropped
    ("AttributeProbes", ["float32[2,5,8]"], "AttributeProbes()"),  # hasattr(x, "jax") False; math.floor of a size
    ("LayerOptions", ["float32[2,5,8]"], "LayerOptions()"),  # an option never called: kept, raises if called
    ("EinopsPacking", ["float32[2,5,8]"], "EinopsPacking()"),  # einops.pack/unpack (fx: einops_packing_pack)
    ("SqrtPool", ["float32[2,16,8]"], "SqrtPool()"),  # int(sqrt(n)) of a traced size
    ("RotaryTable", ["float32[2,16,8]"], "RotaryTable()"),  # @autocast forward; linspace(steps=); .to(x)
    ("TensorOrList", ["float32[2,8,4,4]"], "TensorOrList()"),  # isinstance(x, Tensor) of a traced tensor
    ("DenseStack", ["float32[2,4,4,4]"], "DenseStack()"),  # a ModuleDict subclass: its own entries as attributes
    ("RankBranches", ["float32[2,4,4,4]"], "RankBranches()"),  # a False decision on the rank, asserted
    ("RepeatedActivation", ["float32[2,4,6,6]"], None),  # one stateless module twice in a Sequential: written twice
    ("CheckedEncoder", ["float32[2,3,8,8]"], "CheckedEncoder()"),  # shape reads written where they are read
])
def test_library_shapes_found_by_the_trial_check_from_the_built_model(class_name, specs, build):
    report = check(SUBCLASSES, class_name, [parse_spec(s) for s in specs], examples=2, stages=("spec", "numeric"), build=build)
    assert report.verdict == "pass", report.failure
    assert f"{class_name}.forward" in report.traced


def test_a_file_whose_only_class_subclasses_a_torch_layer_is_translated_from_the_built_model(tmp_path, capsys):
    path = tmp_path / "norm.py"
    text = SUBCLASSES.read_text()
    start = text.index("class FP32LayerNorm")
    path.write_text("import torch.nn as nn\n\n\n" + text[start:text.index("\n\n\n", start)] + "\n")
    code, _, err = run_cli(capsys, "translate", path)
    assert code == 2 and "no torch.nn.Module subclass" in err  # without a class: nothing to read, as before
    code, _, err = run_cli(capsys, "translate", path, "--class", "FP32LayerNorm", "--kwargs", '{"normalized_shape": 8}',
                           "-o", tmp_path / "out.py")
    assert code == 0 and "holds no class `FP32LayerNorm`" in err, err


def test_decisions_on_metadata_are_taken_on_the_built_model_and_said(tmp_path, capsys):
    """The device, a parameter's dtype and the input's rank decide branches as in PyTorch; the output's
    docstring lists each decision; without inputs only the device is known and the rank stays refused."""
    out = tmp_path / "metadata_flax.py"
    code, _, err = run_cli(capsys, "translate", SUBCLASSES, "--build", "MetadataDecisions()", "--input", "float32[2,8,3,3]",
                           "-o", out)
    assert code == 0, err
    text = out.read_text()
    assert "decided on metadata when traced" in text and "a length was 4" in text and "mps" not in text.split('"""', 2)[2]
    model = build_model(SUBCLASSES, None, build="MetadataDecisions()")
    translation = translate_built(model, str(SUBCLASSES)).translation
    refused = [d for d in translation.errors if d.code == UNEXPRESSIBLE]
    assert refused and "len" in refused[0].message, translation.diagnostics


HF_LIKE = ZOO / "hf_like.py"


def test_hugging_face_shapes_check_from_the_built_model():
    """Decorated forwards advertising a deprecated keyword, constants and extra keywords into **kwargs,
    ModelOutput-like outputs read as attributes (a dropped None field takes PyTorch's branch)."""
    report = check(HF_LIKE, "TinyModel", [parse_spec("int64[2,5]:0..11")], examples=2, stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure
    assert {"TinyModel.forward", "Encoder.forward", "Layer.forward"} <= set(report.traced)


def test_a_method_of_an_argument_is_not_called_a_tensor_method():
    """The source translation cannot tell a cache object from a tensor: the diagnostic says both readings."""
    from translator.rewrite.pipeline import translate_source

    errors = translate_source(NOTEBOOK.read_text(), str(NOTEBOOK)).errors
    message = next(d.message for d in errors if "update" in d.message)
    assert "`cache.update()`" in message and "translate the built model" in message


def test_a_mapping_output_indexed_by_position_reads_its_fields_in_order():
    report = check(HF_LIKE, "Classifier", [parse_spec("float32[2,5,8]")], examples=2, stages=("spec", "numeric"),
                   build="Classifier()")
    assert report.verdict == "pass", report.failure


def test_a_submodule_named_self_does_not_shadow_the_module():
    report = check(HF_LIKE, "Attention", [parse_spec("float32[2,5,8]")], examples=2, stages=("spec", "numeric"),
                   build="Attention()")
    assert report.verdict == "pass", report.failure



def test_weight_tying_in_a_built_model_is_refused_by_name(capsys):
    """The built model's translation does not express a tie: refused with both names, never a head that
    would train apart from the embedding (the source translation ties it, rule S013)."""
    code, _, err = run_cli(capsys, "check", HF_LIKE, "--build", "TiedLM()", "--input", "int64[2,5]:0..11", "--examples", "1")
    assert code == 2 and "lm_head.weight" in err and "wte.weight" in err and "tying" in err
    code, _, err = run_cli(capsys, "check", HF_LIKE, "--class", "TiedLM", "--input", "int64[2,5]:0..11", "--examples", "1",
                           "--stages", "spec,numeric")
    assert code == 0, err


def test_a_parameter_list_of_parameter_lists_is_reported_not_a_crash():
    """vit-pytorch's nViT nests ParameterLists: reported at the attribute (it was an AttributeError)."""

    class Nested(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([nn.ParameterList([nn.Parameter(torch.ones(3))])])

        def forward(self, x):
            return x * self.scales[0][0]

    translation = translate_built(Nested(), str(NOTEBOOK), examples=(torch.randn(2, 3),)).translation
    assert any(d.code == UNEXPRESSIBLE and "ParameterList holding other containers" in d.message for d in translation.errors)


def test_an_instance_called_with_none_and_with_a_tensor_is_refused():
    model = build_model(SUBCLASSES, None, build="SharedCaller()")
    translation = translate_built(model, str(SUBCLASSES), examples=(torch.randn(2, 8),)).translation
    assert any(d.code == UNEXPRESSIBLE and "None for one caller and a tensor for another" in d.message
               for d in translation.errors), translation.diagnostics


def test_a_submodule_the_example_run_never_calls_is_kept_and_raises_if_called(tmp_path, capsys):
    """jet_vit's layer options: the unused option's forward needs a call's values to be traced; its weights
    stay (they are in the state dict), the docstring says it was not run, and calling it raises."""
    out = tmp_path / "options_flax.py"
    code, _, err = run_cli(capsys, "translate", SUBCLASSES, "--build", "LayerOptions()", "--input", "float32[2,5,8]",
                           "-o", out)
    text = out.read_text()
    assert code == 0, err
    assert "they raise if called): WindowMixer.forward" in text and "raise NotImplementedError(" in text
    code, _, err = run_cli(capsys, "translate", SUBCLASSES, "--build", "LayerOptions()", "-o", tmp_path / "no_inputs.py")
    assert code == 1 and "WindowMixer.forward" in err  # without example inputs nothing says it is never called


@pytest.mark.parametrize(("decorator", "traced"), [
    ("@torch.autocast('cpu', dtype=torch.bfloat16)", ["FeedForward.forward"]),  # mixed precision: kept, X001
    ("@torch.no_grad()", []),  # S018: the decorator goes, the file's own translation imports and is used
])
def test_a_class_clean_in_a_file_whose_translation_does_not_import_is_checked_from_the_built_model(tmp_path, decorator, traced):
    """looped_vit: a module-level helper under a decorator no rule translates stays in the output as written,
    so the file's translation fails at import; the class itself is clean, so check uses the built model's
    translation (only what the class uses) and says which methods it traced."""
    path = tmp_path / "looped.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\n"
        "class FeedForward(nn.Module):\n    def __init__(self, dim=8):\n        super().__init__()\n"
        "        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU())\n\n"
        "    def forward(self, x):\n        return self.net(x)\n\n\n"
        f"{decorator}\ndef exit_targets(logits):\n    return torch.multinomial(logits.softmax(-1), 1)\n"
    )
    report = check(path, "FeedForward", [parse_spec("float32[2,8]")], examples=1, stages=("spec", "numeric"))
    assert report.verdict == "pass", report.failure
    assert report.traced == traced


def test_a_size_the_trace_decided_is_asserted_where_the_translation_runs(tmp_path):
    """pit's `int(sqrt(n))` baked `h=4` into the traced rearrange: on 36 tokens the program would run with
    h=4, w=9 and give another result silently; the translation asserts the size it was traced for."""
    import jax
    import jax.numpy as jnp

    from translator.loading import module_from_code

    model = build_model(SUBCLASSES, None, build="SqrtPool()")
    translation = translate_built(model, str(SUBCLASSES), examples=(torch.zeros(2, 16, 8),)).translation
    assert not translation.errors and "assert " in translation.code
    flax_model = module_from_code(translation.code, "sqrt_pool_flax").SqrtPool()
    flax_model.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 8)))  # the traced size runs
    with pytest.raises(AssertionError, match="a size was 4 when traced"):
        flax_model.init(jax.random.PRNGKey(0), jnp.zeros((2, 36, 8)))


def test_an_unbatched_input_to_a_pool_is_refused_at_its_line_not_translated_for_another_rank():
    """efficientnet's MaxPool2dDynamicSamePadding checked on a (C, H, W) tensor: PyTorch pools it without a
    batch axis, the translation's channels-last transposes assume one (it failed at init); now X009."""
    pool = nn.MaxPool2d(2)

    class Unbatched(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = pool

        def forward(self, x):
            return torch.nn.functional.max_pool2d(x, 2) + self.pool(x)

    errors = translate_built(Unbatched(), str(SUBCLASSES), examples=(torch.zeros(3, 8, 8),)).translation.errors
    assert [d.code for d in errors][:1] == [UNEXPRESSIBLE] and "without a batch axis ((3, 8, 8))" in errors[0].message
    assert not translate_built(Unbatched(), str(SUBCLASSES), examples=(torch.zeros(2, 3, 8, 8),)).translation.errors


def test_shape_reads_of_a_trace_are_written_where_they_are_read_and_run_channels_last():
    """fx names each step of `assert x.shape[1] == self.channels` (`getattr_1 = x.shape`, `getitem = ...`); written
    back in place, the shape of a channels-last value is read where its axis lives, so the downsampler runs
    channels-last and the encoder passes its maps on with no transpose (rule S004)."""
    model = build_model(SUBCLASSES, None, build="CheckedEncoder()")
    translation = translate_built(model, str(SUBCLASSES), examples=(torch.zeros(2, 3, 8, 8),)).translation
    assert not translation.errors, translation.diagnostics
    down = translation.code.split("class CheckedDown(", 1)[1].split("\nclass ", 1)[0]
    assert "getattr" not in down and "getitem" not in down, down
    assert "def channels_last(self, x):" in down and "x.shape[3] == 4" in down, down
    encoder = translation.code.split("class CheckedEncoder(", 1)[1]
    assert encoder.count("jnp.transpose(") == 2, encoder  # the model's input and output only
