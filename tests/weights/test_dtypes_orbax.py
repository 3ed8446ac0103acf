"""Dtypes kept (bfloat16, float16) unless --dtype says otherwise; Orbax directories in and out."""

import ml_dtypes
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from reference_models import CATALOGUE
from translator.cli import main
from translator.weights.checkpoint import load_variables, numpy_to_tensor, tensor_to_numpy

LENET = next(m for m in CATALOGUE if m.class_name == "LeNet5")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def lenet_state(dtype):
    from reference_models.lenet5 import LeNet5

    torch.manual_seed(0)
    return {k: v.to(dtype) for k, v in LeNet5().state_dict().items()}


def save(state, path):
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)


@pytest.mark.parametrize("tensor", [torch.randn(3, 4).bfloat16(), torch.randn(2).half(), torch.tensor(5), torch.tensor(1.5, dtype=torch.bfloat16)])
def test_numpy_views_are_exact(tensor):
    array = tensor_to_numpy(tensor)
    back = numpy_to_tensor(array)
    assert back.dtype == tensor.dtype and back.shape == tensor.shape and torch.equal(back, tensor)


@pytest.mark.parametrize("middle", [".msgpack", ".safetensors", "/"])
@pytest.mark.parametrize("source_suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "f16"])
def test_half_precision_round_trip(capsys, tmp_path, dtype, source_suffix, middle):
    state = lenet_state(dtype)
    checkpoint = tmp_path / f"lenet{source_suffix}"
    save(state, checkpoint)
    variables = str(tmp_path / "vars") + middle if middle == "/" else tmp_path / f"vars{middle}"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", variables)
    assert code == 0, err
    tree = load_variables(variables)
    kernel = tree["params"]["fc1"]["kernel"]
    expected_np = ml_dtypes.bfloat16 if dtype == torch.bfloat16 else np.float16
    assert kernel.dtype == np.dtype(expected_np)
    assert np.array_equal(kernel.view(np.int16), tensor_to_numpy(state["fc1.weight"]).T.view(np.int16))
    back = tmp_path / "back.safetensors"
    code, out, err = run(capsys, "export", LENET.path, "--class", "LeNet5", "--weights", variables, "-o", back)
    assert code == 0, err
    restored = load_file(str(back))
    for key, value in state.items():
        assert restored[key].dtype == dtype and torch.equal(restored[key], value), key


@pytest.mark.parametrize("target", ["float32", "float16", "bfloat16"])
def test_dtype_flag_casts_floats(capsys, tmp_path, target):
    state = lenet_state(torch.bfloat16)
    checkpoint = tmp_path / "lenet.pt"
    torch.save(state, checkpoint)
    variables = tmp_path / "vars.msgpack"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", variables, "--dtype", target)
    assert code == 0, err
    tree = load_variables(variables)
    expected = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[target]
    assert all(np.asarray(v).dtype == np.dtype(expected) for group in tree["params"].values() for v in group.values())
    back = tmp_path / "back.pt"
    code, out, err = run(capsys, "export", LENET.path, "--class", "LeNet5", "--weights", variables, "-o", back, "--dtype", "float32")
    assert code == 0, err
    restored = torch.load(back, weights_only=True)
    assert restored["fc1.weight"].dtype == torch.float32
    if target in ("float32", "bfloat16"):  # bfloat16 -> float32 is exact
        assert torch.equal(restored["fc1.weight"], state["fc1.weight"].float())


def test_dtype_flag_keeps_integer_buffers(tmp_path):
    from translator.weights.checkpoint import cast

    assert cast(np.arange(3), np.dtype(np.float16)).dtype == np.int64
    assert cast(np.ones(2, np.float32), np.dtype(ml_dtypes.bfloat16)).dtype == np.dtype(ml_dtypes.bfloat16)


def test_bad_dtype(capsys, tmp_path):
    checkpoint = tmp_path / "lenet.pt"
    torch.save(lenet_state(torch.float32), checkpoint)
    target = tmp_path / "vars.msgpack"
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", target, "--dtype", "float8")
    assert code == 2 and "--dtype: expected one of float32, float16, bfloat16" in err
    assert len(err.strip().splitlines()) == 1 and not target.exists()


@pytest.mark.parametrize("spelling", ["dir", "dir/"])
def test_orbax_output_and_overwrite(capsys, tmp_path, spelling):
    checkpoint = tmp_path / "lenet.pt"
    state = lenet_state(torch.float32)
    torch.save(state, checkpoint)
    target = str(tmp_path / spelling)
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", target)
    assert code == 0, err
    assert (tmp_path / "dir").is_dir()
    tree = load_variables(tmp_path / "dir")
    assert np.array_equal(tree["params"]["conv1"]["kernel"], state["conv1.weight"].numpy().transpose(2, 3, 1, 0))
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", target)
    assert code == 2 and "--force" in err
    torch.save({k: v + 1 for k, v in state.items()}, checkpoint)
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", target, "--force")
    assert code == 0, err
    tree = load_variables(tmp_path / "dir")
    assert np.array_equal(tree["params"]["conv1"]["bias"], state["conv1.bias"].numpy() + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "lenet.pt"]  # no staging left behind


def test_unknown_output_suffix(capsys, tmp_path):
    checkpoint = tmp_path / "lenet.pt"
    torch.save(lenet_state(torch.float32), checkpoint)
    code, out, err = run(capsys, "port", LENET.path, "--class", "LeNet5", "--weights", checkpoint, "-o", tmp_path / "vars.npz")
    assert code == 2 and "unknown output format" in err and "Orbax" in err
