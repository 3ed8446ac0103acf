"""``export``: Flax variables back to a PyTorch state dict, bit-exact, loadable with strict=True."""

import importlib

import numpy as np
import pytest
import torch

from reference_models import CATALOGUE
from translator import export_checkpoint, port_checkpoint
from translator.cli import main

BN_SOURCE = '''
import torch
import torch.nn as nn


class BNNet(nn.Module):
    def __init__(self, channels=3):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3)
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, 2)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.fc(x.mean((2, 3)))
'''


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def reference_model(entry):
    module = importlib.import_module(f"reference_models.{entry.module}")
    torch.manual_seed(0)
    return getattr(module, entry.class_name)(**entry.kwargs)


def assert_same_state(a: dict, b: dict):
    assert list(a) == list(b)
    for key in a:
        x, y = a[key], b[key]
        assert x.dtype == y.dtype, key
        assert x.shape == y.shape, key
        assert torch.equal(x, y), key


@pytest.mark.parametrize("middle", [".msgpack", ".safetensors", "orbax"])
@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.class_name)
def test_round_trip_is_bit_exact(tmp_path, entry, middle):
    model = reference_model(entry)
    original = model.state_dict()
    checkpoint = tmp_path / "model.pt"
    torch.save(original, checkpoint)
    variables = tmp_path / ("vars" if middle == "orbax" else f"vars{middle}")
    port_checkpoint(entry.path, entry.class_name, checkpoint, variables, entry.kwargs)
    for suffix in (".pt", ".safetensors"):
        back = tmp_path / f"back{suffix}"
        result = export_checkpoint(entry.path, entry.class_name, variables, back, entry.kwargs)
        assert result.output == back
        if suffix == ".pt":
            restored = torch.load(back, weights_only=True)
        else:
            from safetensors.torch import load_file

            restored = load_file(str(back))
            restored = {k: restored[k] for k in original}  # safetensors keeps no order
        assert_same_state(original, restored)
        for key, array in result.state_dict.items():
            assert np.array_equal(array, original[key].numpy()), key
        reference_model(entry).load_state_dict(restored, strict=True)


def test_dropped_tensors_are_restored(capsys, tmp_path):
    source = tmp_path / "bnnet.py"
    source.write_text(BN_SOURCE)
    namespace: dict = {}
    exec(compile(BN_SOURCE, str(source), "exec"), namespace)
    torch.manual_seed(0)
    model = namespace["BNNet"]()
    model.bn.running_mean.uniform_()
    model.bn.running_var.uniform_(0.5, 2)
    checkpoint = tmp_path / "bn.pt"
    torch.save(model.state_dict(), checkpoint)
    variables = tmp_path / "bn.msgpack"
    code, out, err = run(capsys, "port", source, "--class", "BNNet", "--weights", checkpoint, "-o", variables)
    assert code == 0, err
    back = tmp_path / "back.pt"
    code, out, err = run(capsys, "export", source, "--class", "BNNet", "--weights", variables, "-o", back)
    assert code == 0, err
    assert "note: restored 1 tensor(s)" in err and "bn.num_batches_tracked" in err
    assert f"wrote {back}" in out and "BNNet: 8 tensors" in out
    restored = torch.load(back, weights_only=True)
    assert restored["bn.num_batches_tracked"].dtype == torch.long and restored["bn.num_batches_tracked"].item() == 0
    fresh = namespace["BNNet"]()
    fresh.load_state_dict(restored, strict=True)
    for key, value in model.state_dict().items():
        if key != "bn.num_batches_tracked":
            assert torch.equal(value, restored[key]), key


def test_export_cli_safetensors_and_overwrite(capsys, tmp_path):
    entry = next(m for m in CATALOGUE if m.class_name == "LeNet5")
    checkpoint = tmp_path / "lenet.pt"
    torch.save(reference_model(entry).state_dict(), checkpoint)
    variables = tmp_path / "lenet.safetensors"
    assert run(capsys, "port", entry.path, "--class", "LeNet5", "--weights", checkpoint, "-o", variables)[0] == 0
    back = tmp_path / "back.safetensors"
    back.write_text("keep me")
    code, out, err = run(capsys, "export", entry.path, "--class", "LeNet5", "--weights", variables, "-o", back)
    assert code == 2 and "--force" in err and back.read_text() == "keep me"
    code, out, err = run(capsys, "export", entry.path, "--class", "LeNet5", "--weights", variables, "-o", back, "--force")
    assert code == 0, err


@pytest.mark.parametrize(
    "problem, expected",
    [
        ("missing", "missing variables: params/fc2/bias (<- fc2.bias)"),
        ("shape", "wrong shapes: params/fc1/kernel"),
        ("format", "unknown output format"),
        ("nofile", "no such file"),
        ("garbage", "not readable Flax variables"),
    ],
)
def test_export_bad_input(capsys, tmp_path, problem, expected):
    from translator.weights.checkpoint import load_variables, save_variables

    entry = next(m for m in CATALOGUE if m.class_name == "LeNet5")
    checkpoint = tmp_path / "lenet.pt"
    torch.save(reference_model(entry).state_dict(), checkpoint)
    variables = tmp_path / "lenet.msgpack"
    port_checkpoint(entry.path, "LeNet5", checkpoint, variables)
    tree = load_variables(variables)
    target = tmp_path / "back.pt"
    if problem == "missing":
        del tree["params"]["fc2"]["bias"]
        variables = tmp_path / "broken.msgpack"
        save_variables(tree, variables)
    elif problem == "shape":
        tree["params"]["fc1"]["kernel"] = np.zeros((3, 120), np.float32)
        variables = tmp_path / "broken.msgpack"
        save_variables(tree, variables)
    elif problem == "format":
        target = tmp_path / "back.npz"
    elif problem == "nofile":
        variables = tmp_path / "nope.msgpack"
    elif problem == "garbage":
        variables = tmp_path / "garbage.msgpack"
        variables.write_bytes(b"\xc1not msgpack")
    code, out, err = run(capsys, "export", entry.path, "--class", "LeNet5", "--weights", variables, "-o", target)
    assert code == 2, err
    assert expected in err
    assert not target.exists() and not list(tmp_path.glob(".back*"))
