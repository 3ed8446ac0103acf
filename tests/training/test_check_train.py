"""check-train: a training script and its translation compared step by step (issue 17).

The seed document's CNN script passes; hand-edited translations with the optax mistakes people make
(Adam's eps moved to eps_root, AdamW's weight decay left at optax's default) fail at the first step
that diverges; the JSON carries the fields scripts read.
"""

import json
import textwrap
from pathlib import Path

import pytest

from translator.cli import main
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source
from translator.training.check_train import check_train

ROOT = Path(__file__).resolve().parents[2]
SEED_CNN = ROOT / "examples" / "seed_cnn.py"
SEED_SPECS = ([parse_spec("float32[B,1,8,8]")], parse_spec("int64[B]:0..10"))

ADAMW_SCRIPT = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)
    X = torch.randn(64, 6)
    y = X @ torch.randn(6, 1) + 0.1 * torch.randn(64, 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(6, 16)
            self.out = nn.Linear(16, 1)

        def forward(self, x):
            return self.out(torch.tanh(self.hidden(x)))

    model = Net()
    optimizer = optim.{optimizer}
    criterion = nn.MSELoss()

    for epoch in range(20):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
""")


def test_the_seed_cnn_script_passes_check_train():
    report = check_train(SEED_CNN, *SEED_SPECS, steps=3)
    assert report.ok, report.to_json()
    assert len(report.per_step) == 3
    errors = report.max_rel_err
    assert errors["loss"] < 1e-5 and errors["lr"] == 0.0
    assert report.max_rel_err_float64["params"] < 1e-9  # float64 on both sides: rounding only


def script(tmp_path: Path, optimizer: str) -> Path:
    path = tmp_path / "train.py"
    path.write_text(ADAMW_SCRIPT.format(optimizer=optimizer))
    return path


@pytest.mark.parametrize("optimizer, right, wrong", [
    ("Adam(model.parameters(), lr=1e-2)", "optax.adam(learning_rate)",
     "optax.adam(learning_rate, eps=0.0, eps_root=1e-08)"),
    ("AdamW(model.parameters(), lr=1e-2)", "optax.adamw(learning_rate, weight_decay=0.01)", "optax.adamw(learning_rate)"),
])
def test_an_optax_mistake_in_a_hand_edited_translation_fails_at_the_first_divergent_step(tmp_path, optimizer, right, wrong):
    path = script(tmp_path, optimizer)
    translation = translate_source(path.read_text(), str(path))
    assert translation.ok, [d.format() for d in translation.diagnostics]
    assert right in translation.code, translation.code
    assert check_train(path, steps=5).ok  # the translation as emitted
    edited = tmp_path / "edited.py"
    edited.write_text(translation.code.replace(right, wrong))
    report = check_train(path, steps=5, translated=edited)
    assert not report.ok
    assert report.first_divergence["quantity"] == "params"
    assert report.first_divergence["step"] <= 1


def test_check_train_json_carries_the_verdict_fields(tmp_path, capsys):
    path = script(tmp_path, "SGD(model.parameters(), lr=0.05, momentum=0.9)")
    code = main(["check-train", str(path), "--steps", "3", "--json"])
    out = capsys.readouterr().out
    verdict = json.loads(out)  # stdout carries exactly one JSON object
    assert code == 0 and verdict["ok"] is True
    assert verdict["steps"] == 3
    assert set(verdict["max_rel_err"]) == {"loss", "params", "state", "lr"}
    assert verdict["first_divergence"] is None


def test_a_placeholder_loader_takes_batches_of_what_the_model_takes(capsys):
    assert main(["check-train", str(SEED_CNN), "--steps", "2", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] and verdict["steps"] == 2 and verdict["data"].startswith("synthetic")


def test_a_placeholder_loader_whose_model_cannot_be_probed_needs_specs(tmp_path, capsys):
    path = tmp_path / "train.py"
    path.write_text(ADAMW_SCRIPT.format(optimizer="SGD(model.parameters(), lr=0.1)")
                    .replace("model = Net()", "model = Net(*sizes)").replace("def __init__(self):", "def __init__(self, *sizes):")
                    .replace("for epoch in range(20):", "loader = ...\nfor xb, yb in loader:")
                    .replace("model(X), y", "model(xb), yb"))
    assert main(["check-train", str(path)]) == 2
    assert "placeholder" in capsys.readouterr().err


def test_the_translated_seed_script_runs_on_its_synthetic_batches(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "seed_flax.py"
    out.write_text(translate_source(SEED_CNN.read_text(), str(SEED_CNN)).code.replace("range(10)", "range(1)"))
    run = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Test Accuracy" in run.stdout


def test_a_script_that_does_not_train_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "model_only.py"
    path.write_text("import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n")
    assert main(["check-train", str(path)]) == 2
    assert "no training step" in capsys.readouterr().err


def test_the_seed_script_translates_to_a_jitted_train_step():
    code = translate_source(SEED_CNN.read_text(), str(SEED_CNN)).code
    for expected in ("optimizer = optax.adam(learning_rate)", "@jax.jit\ndef train_step(state, images, labels):",
                     "jax.value_and_grad(loss_fn, has_aux=True)(state.params)", "state = state.apply_gradients(grads=grads)",
                     "outputs = eval_step(state, images)", 'if __name__ == "__main__":'):
        assert expected in code, expected


def test_check_train_html_page_shows_the_steps_beside_the_script(tmp_path, capsys):
    path = script(tmp_path, "SGD(model.parameters(), lr=0.05)")
    page = tmp_path / "page.html"
    assert main(["check-train", str(path), "--steps", "2", "--html", str(page)]) == 0
    text = page.read_text()
    assert 'id="check-train-verdict">pass' in text and "<svg" in text and 'id="training-steps"' in text
    assert 'id="torch-code"' in text and 'id="flax-code"' in text  # the explain panes: PyTorch beside the translation
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text


@pytest.mark.parametrize("code", ["S020", "S021"])
def test_the_script_rules_documented_example_is_what_the_translation_emits(code):
    from translator.equivalence.rule_cases import (
        documented_module,
        missing_statements,
        translate_documented,
    )
    from translator.rules.registry import all_rules

    rule = next(r for r in all_rules() if r.code == code)
    if code == "S021":  # a diagnostic: its flagged example reports it at the line
        translation = translate_source(rule.flagged_examples[0], "example.py")
        assert code in {d.code for d in translation.diagnostics}
        return
    translation = translate_documented(documented_module(rule.doc.example))
    assert not missing_statements(rule.doc.example.flax, translation.code), translation.code


def test_a_syntax_error_names_its_line(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("import torch\nx = (\n")
    assert main(["check-train", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "syntax error" in err and "Traceback" not in err
