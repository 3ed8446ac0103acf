"""Read PyTorch checkpoints and write Flax variables, safely and atomically.

``.pt``/``.pth``/``.bin`` are loaded with ``torch.load(weights_only=True)``: a
pickle that needs arbitrary code is refused.  ``.safetensors`` files are read
with the safetensors library.  Outputs are written to a temporary file in the
target directory and renamed into place, so a failed port leaves nothing behind.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from translator.diagnostics import UsageError
from translator.weights.plan import Variables, flatten_variables, unflatten_variables

TORCH_SUFFIXES = (".pt", ".pth", ".bin")
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


def tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A flat ``{key: array}`` state dict from a PyTorch or safetensors checkpoint."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such checkpoint")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return {k: tensor_to_numpy(v) for k, v in load_file(str(path)).items()}
        except Exception as error:  # safetensors raises its own error types
            raise UsageError(f"{path}: not a readable safetensors file ({error})") from None
    if path.suffix not in TORCH_SUFFIXES:
        raise UsageError(f"{path}: unknown checkpoint format (expected .pt, .pth, .bin or .safetensors)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UsageError(
            f"{path}: refused to unpickle: the file needs arbitrary code to load ({str(error).splitlines()[0]}). "
            "Save a state dict (`torch.save(model.state_dict(), ...)`) or use safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        raise UsageError(f"{path}: not a readable PyTorch checkpoint ({str(error).splitlines()[0]})") from None
    return state_dict_from_object(obj, path)


def state_dict_from_object(obj, path: Path) -> dict[str, np.ndarray]:
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UsageError(f"{path}: expected a state dict (a mapping of names to tensors)")
    return {str(k): tensor_to_numpy(v) for k, v in obj.items()}


def refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path}: exists; pass --force to overwrite")


def write_atomically(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename into ``path``; nothing is left behind on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_variables(variables: Variables, path: str | os.PathLike, force: bool = False) -> None:
    """Write Flax variables as ``.msgpack`` (flax.serialization) or ``.safetensors`` (``/``-joined keys)."""
    path = Path(path)
    if path.suffix not in (".msgpack", ".safetensors"):
        raise UsageError(f"{path}: unknown output format (expected .msgpack or .safetensors)")
    refuse_overwrite(path, force)
    if path.suffix == ".msgpack":
        from flax import serialization

        data = serialization.msgpack_serialize(_as_numpy_tree(variables))
        write_atomically(path, lambda tmp: tmp.write_bytes(data))
    else:
        from safetensors.numpy import save_file

        flat = {k: np.ascontiguousarray(v) for k, v in flatten_variables(variables).items()}
        write_atomically(path, lambda tmp: save_file(flat, str(tmp)))


def load_variables(path: str | os.PathLike) -> Variables:
    """Flax variables from ``.msgpack`` or ``.safetensors`` (the inverse of :func:`save_variables`)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.suffix == ".msgpack":
        from flax import serialization

        return serialization.msgpack_restore(path.read_bytes())
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return unflatten_variables(load_file(str(path)))
    raise UsageError(f"{path}: unknown variables format (expected .msgpack or .safetensors)")


def _as_numpy_tree(tree):
    if isinstance(tree, Mapping):
        return {k: _as_numpy_tree(v) for k, v in tree.items()}
    return np.asarray(tree)
