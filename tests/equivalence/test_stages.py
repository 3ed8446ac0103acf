"""The stages of ``check``: spec -> numeric -> behavioral (SGD steps, statistical dropout), ``B`` batch
dimensions (one compile per distinct shape), the reproducing command, and ``--device gpu``."""

import shlex
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings

from translator.diagnostics import UsageError
from translator.equivalence.check import STAGES, check, parse_stages
from translator.equivalence.device import gpu_problem
from translator.equivalence.specs import parse_spec
from translator.equivalence.strategies import Draw, Recipe, recipes
from translator.rewrite.pipeline import translate_source

TANH_MLP = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class T(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 8)
            self.out = nn.Linear(8, 3)

        def forward(self, x):
            return self.out(torch.tanh(self.fc(x)))
    """
)

TWO_INPUTS = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.emb = nn.Embedding(10, 3)

        def forward(self, x, tokens):
            return self.fc(x) + self.emb(tokens).sum(1)
    """
)

DROPOUT = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 64)
            self.bn = nn.BatchNorm1d(64)
            self.drop = nn.Dropout(0.3)
            self.out = nn.Linear(64, 4)

        def forward(self, x):
            return self.out(torch.tanh(self.drop(self.bn(self.fc(x)))))
    """
)


def write(tmp_path, source, name, replace=None):
    torch_file = tmp_path / f"{name}.py"
    torch_file.write_text(source)
    if replace is None:
        return torch_file, None
    code = translate_source(source, str(torch_file)).code
    assert replace[0] in code, code
    flax_file = tmp_path / f"{name}_flax.py"
    flax_file.write_text(code.replace(*replace))
    return torch_file, flax_file


# --------------------------------------------------------------------------- stages
def test_parse_stages_orders_and_rejects():
    assert parse_stages("behavioral,spec") == ("spec", "behavioral")
    with pytest.raises(UsageError):
        parse_stages("spec,speed")


def test_all_stages_pass_on_a_correct_translation(tmp_path):
    path, _ = write(tmp_path, TANH_MLP, "t")
    report = check(path, "T", [parse_spec("float32[4,6]")], examples=3, stages=STAGES)
    assert report.ok, report.to_json()
    assert [s.status for s in report.stages.values()] == ["passed"] * 3
    result = report.to_json()
    behavioral = result["stages"]["behavioral"]
    assert behavioral["ok"] and behavioral["steps"] == 3 and behavioral["optimizer"] == "sgd"
    assert set(behavioral["max_rel_err"]) == {"params", "update"}
    assert behavioral["max_rel_err"]["update"] < 1e-5  # measured ~5e-7
    assert result["stages"]["numeric"]["examples"] == 3 and result["stage"] == "behavioral"
    for key in ("ok", "class", "examples", "seed", "stage", "mode", "max_abs_err", "max_rel_err", "tolerance", "failure"):
        assert key in result  # the fields the JSON had before stages


def test_a_spec_failure_skips_the_later_stages(tmp_path):
    path, flax = write(tmp_path, TANH_MLP, "t", ("nn.Dense(8)", "nn.Dense(8, use_bias=False)"))
    report = check(path, "T", [parse_spec("float32[4,6]")], flax_source=flax, examples=2, stages=STAGES)
    assert not report.ok and report.stage == "spec"
    assert {n: s.status for n, s in report.stages.items()} == {"spec": "failed", "numeric": "skipped", "behavioral": "skipped"}
    assert report.to_json()["stages"]["spec"]["errors"]


def test_only_requested_stages_run(tmp_path):
    """The Python API runs all three stages by default, as the command line does; fewer on request."""
    path, _ = write(tmp_path, TANH_MLP, "t")
    assert check(path, "T", [parse_spec("float32[4,6]")], examples=1).behavioral is not None
    report = check(path, "T", [parse_spec("float32[4,6]")], examples=2, stages="spec,numeric")
    assert report.ok and report.behavioral is None
    assert report.stages["behavioral"].status == "not requested"
    assert report.to_json()["stages"]["behavioral"]["ok"] is None


def test_behavioral_stage_in_train_mode_compares_running_statistics(tmp_path):
    path, _ = write(tmp_path, DROPOUT, "d")
    report = check(path, "D", [parse_spec("float32[8,16]")], examples=2, train=True, stages=STAGES)
    assert report.ok, report.to_json()
    behavioral = report.behavioral
    assert "state" in behavioral.quantities and behavioral.errors["state"].scale > 0
    (layer,) = behavioral.dropout.layers
    assert layer.torch_module == "drop" and layer.rate == 0.3 and layer.positions >= 2000
    assert abs(layer.fraction - 0.3) <= layer.bound and layer.max_scale_err < 1e-6


@pytest.mark.parametrize(
    "replace, message, stage",
    [
        (("nn.Dropout(rate=0.3)", "nn.Dropout(rate=0.7)"), "outside tolerance", "numeric"),  # keep-probability for the rate
        # dropout never on: PyTorch's mask is not drawn by the translation, a structural difference
        (("deterministic=not train", "deterministic=True"), "not drawn by the translation", "spec"),
    ],
)
def test_mistranslated_dropout_is_caught_when_masks_are_replayed(tmp_path, replace, message, stage):
    """PyTorch's dropout masks are replayed to the translation, so the numeric run sees both (the behavioral
    stage's statistical check is still there for dropout PyTorch draws natively, inside an LSTM)."""
    path, flax = write(tmp_path, DROPOUT, "d", replace)
    report = check(path, "D", [parse_spec("float32[8,16]")], flax_source=flax, examples=2, train=True, stages=STAGES)
    assert not report.ok and report.stage == stage
    assert message in report.failure


# --------------------------------------------------------------------------- B dimensions
def test_batch_dimension_specs():
    spec = parse_spec("float32[B,3,32,32]")
    assert spec.has_batch and str(spec) == "float32[B,3,32,32]" and spec.resolve(3).shape == (3, 3, 32, 32)
    for bad in ("float32[b,3]", "float32[BB,3]", "float32[B,-1]"):
        with pytest.raises(UsageError):
            parse_spec(bad)


@settings(max_examples=20, deadline=None)
@given(recipe=recipes([parse_spec("float32[B,4]"), parse_spec("int64[B,5]:0..10"), parse_spec("float32[2]")]))
def test_inputs_sharing_b_get_the_same_batch(recipe):
    specs = [parse_spec("float32[B,4]"), parse_spec("int64[B,5]:0..10"), parse_spec("float32[2]")]
    x, tokens, fixed = recipe.arrays(specs)
    assert 1 <= recipe.batch <= 4 and x.shape[0] == tokens.shape[0] == recipe.batch and fixed.shape == (2,)
    # the recipe is the whole example: its text rebuilds identical arrays
    again = Recipe.parse(str(recipe), 3).arrays(specs)
    assert all(np.array_equal(a, b) for a, b in zip((x, tokens, fixed), again))


def test_each_batch_size_compiles_once(tmp_path):
    path, _ = write(tmp_path, TWO_INPUTS, "two")
    specs = [parse_spec("float32[B,4]"), parse_spec("int64[B,5]:0..10")]
    report = check(path, "Two", specs, examples=8, stages=STAGES)
    assert report.ok, report.to_json()
    assert len(report.batch_sizes) >= 2
    # one compile of the gradient function per distinct batch size, the behavioral stage reusing them
    # (it takes the largest batch size, 4: one more compile if the examples never drew it)
    assert report.grad_compiles == len(report.batch_sizes | {4})


# --------------------------------------------------------------------------- reproducing command
def test_numeric_failure_prints_a_command_that_reproduces_it(tmp_path, capsys):
    from translator.cli import main

    path, flax = write(tmp_path, TANH_MLP.replace("torch.tanh(", "nn.functional.gelu("), "g",
                       ("approximate=False", "approximate=True"))
    report = check(path, "T", [parse_spec("float32[B,6]")], flax_source=flax, examples=15, stages=STAGES)
    assert not report.ok and report.stage == "numeric" and report.stages["behavioral"].status == "skipped"
    assert report.reproduce and report.to_json()["reproduce"] == report.reproduce
    argv = shlex.split(report.reproduce)
    assert argv[:2] == ["torch2flax", "check"] and "--replay" in argv
    capsys.readouterr()
    assert main(argv[1:] + ["--json"]) == 1
    import json

    replayed = json.loads(capsys.readouterr().out)
    assert replayed["examples"] == 1 and replayed["stage"] == "numeric"
    assert replayed["max_abs_err"]["output"] == pytest.approx(report.errors["output"].max_abs, rel=0.5)
    assert replayed["reproduce"] == report.reproduce  # the replay reproduces itself


def test_replay_of_a_passing_example(tmp_path):
    path, _ = write(tmp_path, TANH_MLP, "t")
    recipe = Recipe((Draw(5, 0.01, 3.0, True),), 9, 3)
    report = check(path, "T", [parse_spec("float32[B,6]")], replay=str(recipe), stages="spec,numeric")
    assert report.ok and report.examples == 1 and report.batch_sizes == {3}
    with pytest.raises(UsageError):
        check(path, "T", [parse_spec("float32[B,6]")], replay="B=2;g=1")


# --------------------------------------------------------------------------- devices
def test_gpu_without_a_gpu_is_a_usage_error(tmp_path):
    if gpu_problem() is None:
        pytest.skip("a GPU is available here")
    path, _ = write(tmp_path, TANH_MLP, "t")
    with pytest.raises(UsageError, match="no GPU available"):
        check(path, "T", [parse_spec("float32[4,6]")], device="gpu")


@pytest.mark.gpu
def test_all_stages_on_the_gpu(tmp_path):
    if gpu_problem() is not None:
        pytest.skip(f"no GPU: {gpu_problem()}")
    import jax
    import torch

    path, _ = write(tmp_path, DROPOUT, "d")
    before = (jax.config.jax_default_matmul_precision, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    report = check(path, "D", [parse_spec("float32[B,16]")], examples=3, train=True, device="gpu", stages=STAGES)
    assert report.ok, report.to_json()
    assert report.device == "gpu" and report.to_json()["device"] == "gpu"
    # strict float32 held during the check only: the caller's settings are back afterwards
    after = (jax.config.jax_default_matmul_precision, torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    assert after == before
