"""The check must catch wrong translations: each known trap, fed through ``--flax``, is caught
at the right stage and (for output differences) localised to the right submodule."""

import textwrap

import pytest

from reference_models import CATALOGUE
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source

LENET = next(m for m in CATALOGUE if m.class_name == "LeNet5")

POOL_NORM_GELU = textwrap.dedent(
    """
    import torch.nn as nn


    class P(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, padding=1)
            self.pool = nn.AvgPool2d(3, stride=2, padding=1)
            self.norm = nn.LayerNorm(3)
            self.act = nn.GELU()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            y = self.pool(self.conv(x)).mean((2, 3))
            return self.fc(self.act(self.norm(y)))
    """
)

BATCH_NORM = textwrap.dedent(
    """
    import torch.nn as nn


    class B(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.bn = nn.BatchNorm1d(3)

        def forward(self, x):
            return self.bn(self.fc(x))
    """
)

SQUARE_MLP = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class S(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 5)

        def forward(self, x):
            return torch.tanh(self.fc(x))
    """
)


def broken(tmp_path, source: str, replace: tuple[str, str], name="model") -> tuple:
    """Write the PyTorch source and a translation with one deliberate mistake."""
    torch_file = tmp_path / f"{name}.py"
    torch_file.write_text(source)
    code = translate_source(source, str(torch_file)).code
    old, new = replace
    assert old in code, f"the translation no longer contains {old!r}:\n{code}"
    flax_file = tmp_path / f"{name}_broken.py"
    flax_file.write_text(code.replace(old, new))
    return torch_file, flax_file


def run(torch_file, class_name, flax_file, spec, train=False, examples=10):
    return check(torch_file, class_name, [parse_spec(spec)], flax_source=flax_file, examples=examples, train=train)


def test_flatten_in_nhwc_order_is_caught_at_fc1(tmp_path):
    flax_file = tmp_path / "lenet_broken.py"
    good = translate_source(LENET.path.read_text(), str(LENET.path)).code
    flax_file.write_text(good.replace("jnp.transpose(x, (0, 3, 1, 2)).reshape(", "x.reshape("))
    report = run(LENET.path, "LeNet5", flax_file, "float32[2,1,28,28]", examples=3)
    assert not report.ok and report.stage == "numeric"
    assert report.divergence.torch_module == "fc1" and report.divergence.rule == "L001"


def test_dropped_bias_is_caught_at_spec(tmp_path):
    flax_file = tmp_path / "lenet_broken.py"
    good = translate_source(LENET.path.read_text(), str(LENET.path)).code
    flax_file.write_text(good.replace("nn.Dense(84)", "nn.Dense(84, use_bias=False)"))
    report = run(LENET.path, "LeNet5", flax_file, "float32[2,1,28,28]", examples=2)
    assert not report.ok and report.stage == "spec"
    assert "params/fc2/bias" in report.failure


def test_count_include_pad_ignored_is_caught_at_pool(tmp_path):
    torch_file, flax_file = broken(tmp_path, POOL_NORM_GELU, ("padding=((1, 1), (1, 1))", "padding=((1, 1), (1, 1)), count_include_pad=False"))
    report = run(torch_file, "P", flax_file, "float32[2,2,6,6]")
    assert not report.ok and report.stage == "numeric"
    # the pool is a function in Flax (no module output to capture): the first captured output after it differs
    assert report.divergence.torch_module in ("pool", "norm")


def test_layer_norm_eps_left_at_flax_default_is_caught(tmp_path):
    torch_file, flax_file = broken(tmp_path, POOL_NORM_GELU, ("epsilon=1e-05, ", ""))
    report = run(torch_file, "P", flax_file, "float32[2,2,6,6]", examples=20)
    assert not report.ok and report.stage == "numeric"
    assert report.divergence.torch_module == "norm" and report.divergence.rule == "L021"


def test_gelu_approximation_mismatch_is_caught(tmp_path):
    torch_file, flax_file = broken(tmp_path, POOL_NORM_GELU, ("approximate=False", "approximate=True"))
    report = run(torch_file, "P", flax_file, "float32[2,2,6,6]", examples=20)
    assert not report.ok and report.stage == "numeric"
    assert report.divergence.torch_module in ("act", "fc")


def test_batch_norm_momentum_not_inverted_is_caught_in_train_mode(tmp_path):
    torch_file, flax_file = broken(
        tmp_path, BATCH_NORM, ("TorchBatchNorm(axis=1)", "nn.BatchNorm(momentum=0.1, epsilon=1e-5, use_fast_variance=False, axis=1)")
    )
    assert run(torch_file, "B", flax_file, "float32[8,4]", examples=2).ok  # eval mode cannot see it
    report = run(torch_file, "B", flax_file, "float32[8,4]", train=True, examples=2)
    assert not report.ok and report.errors["state"].max_rel > 0.1


def test_biased_running_variance_is_caught_in_train_mode(tmp_path):
    """Flax's own BatchNorm with the right momentum: only the running variance's n/(n-1) is missing."""
    torch_file, flax_file = broken(
        tmp_path, BATCH_NORM, ("TorchBatchNorm(axis=1)", "nn.BatchNorm(momentum=0.9, epsilon=1e-5, use_fast_variance=False, axis=1)")
    )
    report = run(torch_file, "B", flax_file, "float32[8,4]", train=True, examples=2)
    assert not report.ok
    assert report.errors["output"].within(report.tolerance)  # outputs agree: only the state is wrong
    assert not report.errors["state"].within(report.tolerance)


def test_kernel_not_transposed_is_caught(tmp_path, monkeypatch):
    """A square Linear ported without its transpose raises no shape error; the check catches it."""
    from translator.rules.layers import linear
    from translator.weights.layouts import IDENTITY

    monkeypatch.setattr(linear, "LINEAR_WEIGHT_TO_KERNEL", IDENTITY)
    torch_file = tmp_path / "square.py"
    torch_file.write_text(SQUARE_MLP)
    report = check(torch_file, "S", [parse_spec("float32[3,5]")], examples=3)
    assert not report.ok and report.stage == "numeric"
    assert report.divergence.torch_module == "fc"


@pytest.mark.parametrize("rtol", [1e-4])
def test_correct_translations_pass(tmp_path, rtol):
    """The same sources, translated correctly, pass (so the failures above are the mistakes)."""
    for source, name, spec, train in ((POOL_NORM_GELU, "P", "float32[2,2,6,6]", False), (BATCH_NORM, "B", "float32[8,4]", True)):
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        report = check(path, name, [parse_spec(spec)], examples=5, train=train)
        assert report.ok, report.to_json()


LSTM_LM = next(m for m in CATALOGUE if m.class_name == "LSTMLanguageModel")


def test_lstm_gate_order_is_caught_at_the_lstm(tmp_path):
    """Gates split as i,f,o,g instead of PyTorch's i,f,g,o (PITFALLS.md: 0.511): caught at the
    numeric stage and localised to the LSTM, with the rule that translated it."""
    flax_file = tmp_path / "lstm_broken.py"
    good = translate_source(LSTM_LM.path.read_text(), str(LSTM_LM.path)).code
    assert "i, f, g, o = jnp.split(" in good
    flax_file.write_text(good.replace("i, f, g, o = jnp.split(", "i, f, o, g = jnp.split("))
    report = check(LSTM_LM.path, LSTM_LM.class_name, [parse_spec(s) for s in LSTM_LM.inputs], LSTM_LM.kwargs,
                   flax_source=flax_file, examples=3, stages="spec,numeric")
    assert not report.ok and report.stage == "numeric"
    assert report.stages["spec"].status == "passed"  # same variables: only the numbers can tell
    assert report.divergence.torch_module == "lstm" and report.divergence.rule == "L050"
    assert report.reproduce and "--replay" in report.reproduce
