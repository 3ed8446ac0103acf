"""The command line as users and scripts see it: verbs, flags, output formats, exit codes.

Bad input gets one clear line on stderr, exit code 2, no traceback and no output file.
"""

import json
import subprocess
import sys

import pytest
import torch

from reference_models import CATALOGUE
from translator.cli import main

LENET = next(m for m in CATALOGUE if m.class_name == "LeNet5")
MLP = next(m for m in CATALOGUE if m.class_name == "MLP")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


# --------------------------------------------------------------------------- translate
def test_translate_to_stdout(capsys):
    code, out, err = run(capsys, "translate", LENET.path)
    assert code == 0
    assert "class LeNet5(nn.Module):" in out and "def __call__(self, x):" in out
    assert "# L002:" in out  # notes cite rule codes


def test_translate_no_notes_to_file(capsys, tmp_path):
    target = tmp_path / "out.py"
    code, out, err = run(capsys, "translate", LENET.path, "-o", target, "--no-notes")
    assert code == 0 and out == ""
    text = target.read_text()
    assert "# L0" not in text and "# S0" not in text
    compile(text, str(target), "exec")


def test_translate_syntax_error(capsys, tmp_path):
    source = tmp_path / "broken.py"
    source.write_text("import torch.nn as nn\nclass M(nn.Module:\n    pass\n")
    target = tmp_path / "out.py"
    code, out, err = run(capsys, "translate", source, "-o", target)
    assert code == 2
    assert f"{source}:2:" in err and "syntax error" in err
    assert len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_translate_no_module(capsys, tmp_path):
    source = tmp_path / "plain.py"
    source.write_text("def f(x):\n    return x\n")
    code, out, err = run(capsys, "translate", source)
    assert code == 2 and "no torch.nn.Module subclass" in err


def test_translate_missing_file(capsys, tmp_path):
    code, out, err = run(capsys, "translate", tmp_path / "nope.py")
    assert code == 2 and "no such file" in err


def test_translate_unsupported_construct_reports_line(capsys, tmp_path):
    source = tmp_path / "model.py"
    source.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n        y = torch.special.i0(self.fc(x))\n        return y\n"
    )
    code, out, err = run(capsys, "translate", source)
    assert code == 1
    assert f"{source}:11:13: X001 no rule translates `torch.special.i0`" in err
    assert "# TODO(torch2flax): X001" in out


# --------------------------------------------------------------------------- port
@pytest.fixture
def lenet_checkpoint(tmp_path):
    from reference_models.lenet5 import LeNet5

    torch.manual_seed(0)
    path = tmp_path / "lenet5.pt"
    torch.save(LeNet5().state_dict(), path)
    return path


@pytest.mark.parametrize("suffix", [".msgpack", ".safetensors"])
def test_port_writes_variables(capsys, tmp_path, lenet_checkpoint, suffix):
    from translator.weights.checkpoint import load_variables

    target = tmp_path / f"out{suffix}"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", lenet_checkpoint, "-o", target)
    assert code == 0, err
    variables = load_variables(target)
    state = torch.load(lenet_checkpoint)
    kernel = variables["params"]["conv1"]["kernel"]
    assert kernel.shape == (5, 5, 1, 6)
    assert (kernel == state["conv1.weight"].numpy().transpose(2, 3, 1, 0)).all()
    assert (variables["params"]["fc1"]["kernel"] == state["fc1.weight"].numpy().T).all()


def test_port_refuses_to_overwrite(capsys, tmp_path, lenet_checkpoint):
    target = tmp_path / "out.msgpack"
    target.write_text("keep me")
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", lenet_checkpoint, "-o", target)
    assert code == 2 and "--force" in err and target.read_text() == "keep me"
    code, *_ = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", lenet_checkpoint, "-o", target, "--force")
    assert code == 0


def test_port_missing_key(capsys, tmp_path, lenet_checkpoint):
    state = torch.load(lenet_checkpoint)
    del state["fc2.bias"]
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    target = tmp_path / "out.msgpack"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", broken, "-o", target)
    assert code == 2
    assert "missing keys: fc2.bias (-> params/fc2/bias)" in err
    assert not target.exists() and not list(tmp_path.glob(".out*"))


def test_port_wrong_shape_and_unexpected_listed_together(capsys, tmp_path, lenet_checkpoint):
    state = torch.load(lenet_checkpoint)
    state["fc1.weight"] = torch.zeros(120, 255)
    state["extra.weight"] = torch.zeros(3)
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    target = tmp_path / "out.safetensors"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", broken, "-o", target)
    assert code == 2
    assert "fc1.weight: checkpoint (120, 255), model (120, 256)" in err
    assert "unexpected keys: extra.weight" in err
    assert not target.exists()


def test_port_refuses_arbitrary_pickle(capsys, tmp_path):
    evil = tmp_path / "evil.pt"
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    evil.write_bytes(pickle.dumps(Payload()))
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", evil, "-o", tmp_path / "o.msgpack")
    assert code == 2 and "refused to unpickle" in err and "safetensors" in err
    assert "pwned" not in out


def test_port_missing_class(capsys, tmp_path, lenet_checkpoint):
    code, out, err = run(capsys, "port", LENET.path, "--class", "Nope", "--weights", lenet_checkpoint, "-o", tmp_path / "o.msgpack")
    assert code == 2 and "no class `Nope`" in err and "LeNet5" in err


# --------------------------------------------------------------------------- check
def test_check_json(capsys):
    code, out, err = run(
        capsys, "check", MLP.path, "--class", "MLP", "--kwargs", json.dumps(MLP.kwargs),
        "--input", "float32[2,784]", "--examples", "3", "--json",
    )
    assert code == 0, out
    report = json.loads(out)  # exactly one JSON object on stdout
    assert report["ok"] is True and report["verdict"] == "pass" and report["class"] == "MLP" and report["examples"] >= 3
    for key in ("max_abs_err", "max_rel_err"):
        assert set(report[key]) == {"output", "grad_input", "grad_params", "state"}
        assert all(v < 1e-4 for v in report["max_rel_err"].values())
    assert report["tolerance"]["rtol"] == 1e-4
    assert report["compared"]["quantities"] == report["compared"]["of"] == 6 and report["relaxed"] == {}


def test_check_table_with_python_literal_kwargs(capsys):
    code, out, err = run(
        capsys, "check", LENET.path, "--class", "LeNet5", "--kwargs", "{'num_classes': 7}",
        "--input", "float32[2,1,28,28]", "--examples", "2",
    )
    assert code == 0
    assert "grad_params" in out and "PASS" in out


def test_check_invalid_kwargs(capsys):
    code, out, err = run(capsys, "check", LENET.path, "--class", "LeNet5", "--kwargs", "{num_classes: 10", "--input", "float32[1,1,28,28]")
    assert code == 2 and "--kwargs" in err


@pytest.mark.parametrize("spec", ["float32(4,1)", "float33[4]", "int64[2,3]", "int64[2]:5..1", "float32[0,3]"])
def test_check_malformed_spec(capsys, spec):
    code, out, err = run(capsys, "check", LENET.path, "--class", "LeNet5", "--input", spec)
    assert code == 2 and "--input" in err


def test_check_detects_broken_translation(capsys, tmp_path):
    """A hand-edited translation with a wrong activation fails with exit code 1."""
    good = (LENET.path.parent.parent / "tests" / "golden" / "lenet5_flax.py").read_text()
    broken = tmp_path / "lenet5_broken.py"
    broken.write_text(good.replace("x = nn.sigmoid(self.fc2(x))", "x = nn.tanh(self.fc2(x))"))
    code, out, err = run(capsys, "check", LENET.path, "--class", "LeNet5", "--input", "float32[2,1,28,28]", "--flax", broken, "--examples", "2", "--json")
    assert code == 1
    assert json.loads(out)["ok"] is False


def test_check_reports_untranslatable_source(capsys, tmp_path):
    source = tmp_path / "model.py"
    source.write_text("import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return torch.special.i0(x)\n")
    code, out, err = run(capsys, "check", source, "--class", "M", "--input", "float32[2,3]")
    assert code == 1 and ":6:16: X001" in err


# --------------------------------------------------------------------------- rules and entry points
def test_rules_list_and_explain(capsys):
    code, out, err = run(capsys, "rules")
    assert code == 0 and "L001" in out and "TorchConv" in out
    code, out, err = run(capsys, "rules", "l002")
    assert code == 0 and "Why JAX differs" in out
    code, out, err = run(capsys, "rules", "Z999")
    assert code == 2


def test_python_dash_m_and_console_script():
    for command in ([sys.executable, "-m", "translator", "rules", "S004"], ["torch2flax", "rules", "S004"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "TorchLayout" in result.stdout


def test_calling_a_local_alias_of_a_layer_is_flagged(capsys, tmp_path):
    """`layer = self.conv; layer(x)` would otherwise get PyTorch's layout and be silently wrong."""
    source = tmp_path / "alias.py"
    source.write_text(
        "import torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(8, 8, 3, padding=1)\n\n    def forward(self, x):\n        layer = self.conv\n"
        "        return layer(x)\n"
    )
    code, out, err = run(capsys, "translate", source)
    assert code == 1 and ":11:16: X005" in err
