"""Checkpoints as users have them: wrapped, prefixed, sharded; each recognised and said so."""

import json

import numpy as np
import pytest
import torch
from conftest import run_cli  # noqa: E402  (tests/ is on sys.path)
from safetensors.torch import save_file

from reference_models import CATALOGUE
from translator.cli import main
from translator.weights.checkpoint import load_variables, open_checkpoint

LENET = next(m for m in CATALOGUE if m.class_name == "LeNet5")


run = run_cli


@pytest.fixture
def state():
    from reference_models.lenet5 import LeNet5

    torch.manual_seed(0)
    return LeNet5().state_dict()


def port(capsys, tmp_path, weights, *extra):
    target = tmp_path / "out.msgpack"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", weights, "-o", target, *extra)
    return code, err, target


def assert_ported(target, state):
    variables = load_variables(target)
    assert np.array_equal(variables["params"]["fc1"]["kernel"], state["fc1.weight"].numpy().T)
    assert np.array_equal(variables["params"]["conv1"]["bias"], state["conv1.bias"].numpy())


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state_dict"])
def test_wrapped_state_dict_recognised(capsys, tmp_path, state, wrapper):
    path = tmp_path / "ckpt.pt"
    torch.save({wrapper: state, "epoch": 7, "optimizer": {"lr": 0.1}}, path)
    code, err, target = port(capsys, tmp_path, path)
    assert code == 0, err
    assert f"note: ckpt.pt: read the state dict under `{wrapper}`" in err and "epoch" in err
    assert_ported(target, state)


@pytest.mark.parametrize("prefix", ["module.", "model.", "_orig_mod.", "module.model."])
def test_prefix_recognised(capsys, tmp_path, state, prefix):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {prefix + k: v for k, v in state.items()}}, path)
    code, err, target = port(capsys, tmp_path, path)
    assert code == 0, err
    assert f"stripped the key prefix `{prefix}`" in err
    assert_ported(target, state)


def test_model_prefix_kept_when_the_model_has_a_model_attribute(tmp_path):
    from translator.weights.checkpoint import TensorSource

    shapes = {"model.fc.weight": (2, 2)}
    source = TensorSource(tmp_path / "x.pt", shapes, lambda k: np.zeros(shapes[k]))
    from translator.weights.checkpoint import _strip_prefixes

    kept = _strip_prefixes(source, None, {"model.fc.weight"})
    assert kept.keys() == ["model.fc.weight"] and not kept.notes


def test_explicit_key_and_prefix(capsys, tmp_path, state):
    path = tmp_path / "ckpt.pt"
    torch.save({"ema": {"net." + k: v for k, v in state.items()}, "state_dict": {"bad": torch.zeros(1)}}, path)
    code, err, target = port(capsys, tmp_path, path, "--key", "ema", "--strip-prefix", "net.")
    assert code == 0, err
    assert_ported(target, state)


def test_explicit_key_missing(capsys, tmp_path, state):
    path = tmp_path / "ckpt.pt"
    torch.save({"ema": state}, path)
    code, err, target = port(capsys, tmp_path, path, "--key", "nope")
    assert code == 2 and "--key nope: no such entry (the checkpoint holds: ema)" in err
    assert len(err.strip().splitlines()) == 1 and not target.exists()


def test_explicit_prefix_not_on_every_key(capsys, tmp_path, state):
    path = tmp_path / "ckpt.pt"
    torch.save(state, path)
    code, err, target = port(capsys, tmp_path, path, "--strip-prefix", "module.")
    assert code == 2 and "--strip-prefix module.: 10 of 10 keys do not start with it" in err
    assert not target.exists()


def test_wrapper_without_state_dict(capsys, tmp_path, state):
    path = tmp_path / "ckpt.pt"
    torch.save({"weights": state, "epoch": 3}, path)
    code, err, target = port(capsys, tmp_path, path)
    assert code == 2 and "entries holding mappings: weights (choose one with --key)" in err
    assert not target.exists()


def write_shards(tmp_path, state, kind):
    keys = list(state)
    shards = {f"model-0000{i + 1}-of-00002.{kind}": keys[i::2] for i in range(2)}
    weight_map = {}
    for name, names in shards.items():
        part = {k: state[k].contiguous() for k in names}
        if kind == "safetensors":
            save_file(part, str(tmp_path / name))
        else:
            torch.save(part, tmp_path / name)
        weight_map.update({k: name for k in names})
    index = tmp_path / ("model.safetensors.index.json" if kind == "safetensors" else "pytorch_model.bin.index.json")
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return index


@pytest.mark.parametrize("kind", ["safetensors", "bin"])
def test_sharded_checkpoint(capsys, tmp_path, state, kind):
    index = write_shards(tmp_path, state, kind)
    code, err, target = port(capsys, tmp_path, index)
    assert code == 0, err
    assert "10 tensors in 2 shards" in err
    assert_ported(target, state)


def test_sharded_missing_shard(capsys, tmp_path, state):
    index = write_shards(tmp_path, state, "safetensors")
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    code, err, target = port(capsys, tmp_path, index)
    assert code == 2 and "shard model-00002-of-00002.safetensors is missing" in err
    assert not target.exists()


def test_sharded_bad_index(capsys, tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    index.write_text("{not json")
    code, err, target = port(capsys, tmp_path, index)
    assert code == 2 and "not a sharded-checkpoint index" in err


def test_safetensors_is_read_lazily(tmp_path, state):
    path = tmp_path / "m.safetensors"
    save_file(dict(state), str(path))
    source = open_checkpoint(path)
    assert source.shapes()["fc1.weight"] == (120, 256)
    assert np.array_equal(source.get("fc1.weight"), state["fc1.weight"].numpy())


def test_unknown_format_and_garbage(capsys, tmp_path):
    weird = tmp_path / "w.npz"
    weird.write_bytes(b"x")
    code, err, target = port(capsys, tmp_path, weird)
    assert code == 2 and "unknown checkpoint format" in err
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x00" * 5)
    code, err, target = port(capsys, tmp_path, garbage)
    assert code == 2 and "not a readable safetensors file" in err
    garbage = tmp_path / "g.pt"
    garbage.write_bytes(b"PK\x03\x04 broken zip")
    code, err, target = port(capsys, tmp_path, garbage)
    assert code == 2 and "g.pt" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()


def test_a_model_without_parameters_ports(tmp_path):
    """`port` of a pooling/activation-only model: its (empty) state dict is a state dict."""
    import textwrap

    import torch


    source = tmp_path / "pool.py"
    source.write_text(textwrap.dedent('''\
        import torch.nn as nn


        class Pool(nn.Module):
            def forward(self, x):
                return x.relu()
    '''))
    checkpoint = tmp_path / "empty.pt"
    torch.save({}, checkpoint)
    assert main(["port", str(source), "--class", "Pool", "--weights", str(checkpoint), "-o", str(tmp_path / "v.msgpack")]) == 0
    assert main(["port", str(source), "--class", "Pool", "--weights", str(checkpoint), "-o", str(tmp_path / "orbax")]) == 2
    assert not (tmp_path / "orbax").exists()
