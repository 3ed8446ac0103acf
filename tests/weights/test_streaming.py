"""Tensors converted and written one by one: the streaming writers match the libraries' readers."""

import ml_dtypes
import numpy as np
import pytest
import torch
from flax import serialization
from safetensors import safe_open

from reference_models import CATALOGUE
from translator import port_checkpoint
from translator.weights.checkpoint import write_msgpack, write_safetensors

TREE = {
    "params": {
        "fc": {"kernel": np.arange(12, dtype=np.float32).reshape(3, 4), "bias": np.ones(4, ml_dtypes.bfloat16)},
        "emb": {"embedding": np.arange(6, dtype=np.float16).reshape(2, 3)[:, ::2]},  # not contiguous
    },
    "batch_stats": {"bn": {"mean": np.zeros((), np.float64), "count": np.array([1, 2], np.int64), "flag": np.array([True])}},
}


def flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        out.update(flat(v, f"{prefix}{k}/") if isinstance(v, dict) else {prefix + k: v})
    return out


def test_msgpack_writer_is_read_by_flax(tmp_path):
    path = tmp_path / "v.msgpack"
    write_msgpack(TREE, path)
    restored = serialization.msgpack_restore(path.read_bytes())
    for key, value in flat(TREE).items():
        got = flat(restored)[key]
        assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value), key


def test_safetensors_writer_is_read_by_safetensors(tmp_path):
    path = tmp_path / "v.safetensors"
    write_safetensors(flat(TREE), path, {"format": "flax"})
    with safe_open(str(path), framework="numpy") as handle:
        assert handle.metadata() == {"format": "flax"}
        for key, value in flat(TREE).items():
            got = handle.get_tensor(key)
            assert got.dtype == value.dtype and got.shape == value.shape and np.array_equal(got, value), key


def test_progress_called_once_per_tensor(tmp_path):
    entry = next(m for m in CATALOGUE if m.class_name == "LeNet5")
    from reference_models.lenet5 import LeNet5

    checkpoint = tmp_path / "lenet.pt"
    torch.save(LeNet5().state_dict(), checkpoint)
    seen = []

    def progress(plan):
        seen.append(len(plan.tensors))
        return lambda tensor: seen.append(tensor.torch_key)

    result = port_checkpoint(entry.path, "LeNet5", checkpoint, progress=progress)
    assert seen[0] == len(result.plan.tensors) == len(seen) - 1
    assert seen[1:] == [t.torch_key for t in result.plan.tensors]


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_port_reads_only_what_it_converts(tmp_path, suffix, monkeypatch):
    """Each tensor is read once, when converted (lazily), not loaded up front."""
    from safetensors.torch import save_file

    from reference_models.lenet5 import LeNet5
    from translator.weights import checkpoint as ckpt

    state = LeNet5().state_dict()
    path = tmp_path / f"lenet{suffix}"
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    reads = []
    original = ckpt.tensor_to_numpy
    monkeypatch.setattr(ckpt, "tensor_to_numpy", lambda t: reads.append(tuple(t.shape)) or original(t))
    source = ckpt.open_checkpoint(path)
    assert reads == [] and source.shapes()["fc1.weight"] == (120, 256)
    source.get("fc1.weight")
    assert reads == [(120, 256)]
