"""Read PyTorch checkpoints and Flax variables, write both, safely, atomically and one tensor at a time.

Reading.  ``.pt``/``.pth``/``.bin`` are loaded with ``torch.load(weights_only=True,
mmap=True)``: a pickle that needs arbitrary code is refused, and tensors stay in the
memory-mapped file until they are converted.  ``.safetensors`` files are opened with
``safe_open`` and read one tensor at a time.  A sharded checkpoint is read through its
index file (``*.safetensors.index.json``, ``pytorch_model.bin.index.json``).  A state
dict wrapped in a training checkpoint (``{"state_dict": ...}``) or carrying a key prefix
(``module.`` from DataParallel, ``_orig_mod.`` from torch.compile, ``model.``) is
recognised, and the reader says what it did in :attr:`TensorSource.notes`.

Dtypes are kept: bfloat16 becomes ``ml_dtypes.bfloat16`` (numpy has none; JAX uses
this one), float16 stays float16.

Writing.  Outputs are written to a temporary file (or directory) next to the target
and renamed into place, so a failed write leaves nothing behind.  ``.safetensors`` and
``.msgpack`` are written tensor by tensor, straight from each array's buffer, so a write
needs no second copy of the model.  A path with no suffix (or ending in ``/``) is an
Orbax checkpoint directory.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import ml_dtypes
import numpy as np
import torch

from translator.diagnostics import UsageError
from translator.weights.plan import Variables, flatten_variables, unflatten_variables

TORCH_SUFFIXES = (".pt", ".pth", ".bin")
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
#: prefixes stripped when every key carries one and the keys do not fit the model as they are
AUTO_PREFIXES = ("module.", "_orig_mod.", "model.")
#: ``--dtype`` choices
DTYPES = {"float32": np.dtype(np.float32), "float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}

# torch dtypes numpy lacks, stored bit for bit through an integer view
_VIEWED = {
    torch.bfloat16: (torch.int16, np.int16, ml_dtypes.bfloat16),
    torch.float8_e4m3fn: (torch.uint8, np.uint8, ml_dtypes.float8_e4m3fn),
    torch.float8_e5m2: (torch.uint8, np.uint8, ml_dtypes.float8_e5m2),
}


def tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A numpy array with the tensor's exact bits and dtype (bfloat16 -> ``ml_dtypes.bfloat16``)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype in _VIEWED:
        torch_int, _, ml = _VIEWED[tensor.dtype]
        return tensor.contiguous().view(torch_int).numpy().view(ml)
    return tensor.numpy()


def numpy_to_tensor(array: np.ndarray) -> torch.Tensor:
    """The inverse of :func:`tensor_to_numpy` (shares memory where it can)."""
    array = np.require(array, requirements="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    with warnings.catch_warnings():  # arrays read from a file are read-only; they are only saved
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        for torch_dtype, (_, np_int, ml) in _VIEWED.items():
            if array.dtype == np.dtype(ml):
                return torch.from_numpy(array.view(np_int)).view(torch_dtype)
        return torch.from_numpy(array)


def cast(array: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    """``--dtype``: floating tensors only; integer buffers (step counters, indices) keep theirs."""
    if dtype is None or array.dtype == dtype or not is_floating(array.dtype):
        return array
    return array.astype(dtype)


def is_floating(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating) or dtype in (np.dtype(ml_dtypes.bfloat16), np.dtype(ml_dtypes.float8_e4m3fn), np.dtype(ml_dtypes.float8_e5m2))


def parse_dtype(name: str | None) -> np.dtype | None:
    if name is None:
        return None
    if name not in DTYPES:
        raise UsageError(f"--dtype: expected one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


# --------------------------------------------------------------------------- reading PyTorch checkpoints
class TensorSource:
    """A checkpoint's tensors by key, read one at a time; ``notes`` say what the reader recognised."""

    def __init__(self, path: Path, shapes: dict[str, tuple[int, ...]], read: Callable[[str], np.ndarray], notes: list[str] | None = None):
        self.path = path
        self._shapes = shapes
        self._read = read
        self.notes: list[str] = list(notes or [])

    def keys(self) -> list[str]:
        return list(self._shapes)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self._shapes)

    def __contains__(self, key: str) -> bool:
        return key in self._shapes

    def __len__(self) -> int:
        return len(self._shapes)

    def get(self, key: str) -> np.ndarray:
        return self._read(key)

    def renamed(self, names: Mapping[str, str], note: str | None = None) -> TensorSource:
        """The same tensors under new names (``names``: new -> old)."""
        shapes = {new: self._shapes[old] for new, old in names.items()}
        return TensorSource(self.path, shapes, lambda key: self._read(names[key]), self.notes + ([note] if note else []))


def open_checkpoint(
    path: str | os.PathLike,
    key: str | None = None,
    strip_prefix: str | None = None,
    expected: Iterable[str] | None = None,
) -> TensorSource:
    """Open a PyTorch or safetensors checkpoint (or a sharded one, by its index file) for reading.

    ``key`` picks the state dict inside a wrapping checkpoint and ``strip_prefix`` removes a
    key prefix; when not given, both are recognised automatically (``expected``, the model's
    keys, lets ``model.`` be told from a model whose attribute is called ``model``).
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such checkpoint")
    if path.name.endswith(".index.json"):
        source = _open_sharded(path, key)
    elif path.is_dir():
        raise UsageError(f"{path}: a directory; pass a checkpoint file or a sharded checkpoint's *.index.json")
    else:
        source = _open_file(path, key)
    return _strip_prefixes(source, strip_prefix, set(expected) if expected is not None else None)


def load_state_dict(path: str | os.PathLike, key: str | None = None, strip_prefix: str | None = None) -> dict[str, np.ndarray]:
    """A flat ``{key: array}`` state dict from a PyTorch or safetensors checkpoint, read whole."""
    source = open_checkpoint(path, key, strip_prefix)
    return {k: source.get(k) for k in source.keys()}


def _open_file(path: Path, key: str | None) -> TensorSource:
    if path.suffix == ".safetensors":
        if key is not None:
            raise UsageError(f"--key {key}: a safetensors file holds one flat state dict; --key is for wrapped PyTorch checkpoints")
        return _open_safetensors(path)
    if path.suffix not in TORCH_SUFFIXES:
        raise UsageError(f"{path}: unknown checkpoint format (expected .pt, .pth, .bin, .safetensors or a *.index.json)")
    return _open_torch(path, key)


def _open_safetensors(path: Path) -> TensorSource:
    from safetensors import safe_open

    try:
        handle = safe_open(str(path), framework="pt")
        shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    except Exception as error:  # safetensors raises its own error types
        raise UsageError(f"{path}: not a readable safetensors file ({error})") from None
    return TensorSource(path, shapes, lambda k: tensor_to_numpy(handle.get_tensor(k)))


def _open_torch(path: Path, key: str | None) -> TensorSource:
    try:
        try:  # memory-mapped: tensors are read from the file when converted
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):  # the legacy (non-zip) format cannot be mapped; read it whole
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UsageError(
            f"{path}: refused to unpickle: the file needs arbitrary code to load ({str(error).splitlines()[0]}). "
            "Save a state dict (`torch.save(model.state_dict(), ...)`) or use safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise UsageError(f"{path}: not a readable PyTorch checkpoint ({(str(error).splitlines() or [type(error).__name__])[0]})") from None
    state, notes = _unwrap(obj, path, key)
    return TensorSource(path, {k: tuple(v.shape) for k, v in state.items()}, lambda k: tensor_to_numpy(state[k]), notes)


def state_dict_from_object(obj, path: Path, key: str | None = None) -> dict[str, np.ndarray]:
    state, _ = _unwrap(obj, path, key)
    return {k: tensor_to_numpy(v) for k, v in state.items()}


def _unwrap(obj, path: Path, key: str | None) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict inside a checkpoint object: itself, ``obj[key]``, or a recognised wrapper."""
    notes = []
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            top = ", ".join(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
            raise UsageError(f"{path}: --key {key}: no such entry (the checkpoint holds: {top})")
        obj = obj[key]
    elif isinstance(obj, Mapping) and not _is_state_dict(obj):
        for wrapper in WRAPPER_KEYS:
            if wrapper in obj and isinstance(obj[wrapper], Mapping):
                others = [str(k) for k in obj if k != wrapper]
                notes.append(
                    f"{path.name}: read the state dict under `{wrapper}`"
                    + (f" (ignored: {', '.join(others)})" if others else "")
                    + "; pass --key to choose another entry"
                )
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not _is_state_dict(obj):
        hint = ""
        if isinstance(obj, Mapping):
            nested = [str(k) for k, v in obj.items() if isinstance(v, Mapping)]
            hint = f"; entries holding mappings: {', '.join(nested)} (choose one with --key)" if nested else ""
        raise UsageError(f"{path}: expected a state dict (a mapping of names to tensors){hint}")
    return {str(k): v for k, v in obj.items()}, notes


def _is_state_dict(obj: Mapping) -> bool:
    return all(isinstance(v, torch.Tensor) for v in obj.values())  # empty: a model without parameters


def _open_sharded(index: Path, key: str | None) -> TensorSource:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise TypeError
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise UsageError(f"{index}: not a sharded-checkpoint index (expected a JSON object with a `weight_map` of key -> shard file)") from None
    shards: dict[str, TensorSource] = {}
    for name in dict.fromkeys(weight_map.values()):
        shard = index.parent / name
        if not shard.exists():
            raise UsageError(f"{index}: shard {name} is missing (looked for {shard})")
        shards[name] = _open_file(shard, key)
    shapes = {}
    for k, name in weight_map.items():
        if k not in shards[name]:
            raise UsageError(f"{index}: {k} is mapped to {name}, which does not hold it")
        shapes[k] = shards[name].shapes()[k]
    notes = [note for shard in shards.values() for note in shard.notes[:1]]
    notes.insert(0, f"{index.name}: {len(weight_map)} tensors in {len(shards)} shards")
    return TensorSource(index, shapes, lambda k: shards[weight_map[k]].get(k), notes)


def _strip_prefixes(source: TensorSource, explicit: str | None, expected: set[str] | None) -> TensorSource:
    keys = source.keys()
    if explicit is not None:
        lacking = [k for k in keys if not k.startswith(explicit)]
        if lacking:
            raise UsageError(f"--strip-prefix {explicit}: {len(lacking)} of {len(keys)} keys do not start with it (first: {lacking[0]})")
        return source.renamed({k[len(explicit):]: k for k in keys})
    # strip recognised prefixes one after another (`module.model.`); keep the step that fits the model best
    candidates = AUTO_PREFIXES if expected is not None else AUTO_PREFIXES[:2]  # `model.` only when the model says so
    steps = [("", {k: k for k in keys})]
    while True:
        stripped, names = steps[-1]
        if expected is not None and expected <= set(names):
            break
        prefix = next((p for p in candidates if names and all(k.startswith(p) for k in names)), None)
        if prefix is None:
            break
        steps.append((stripped + prefix, {k[len(prefix):]: old for k, old in names.items()}))
    if expected is None:
        stripped, names = steps[-1]
    else:
        stripped, names = max(steps, key=lambda step: (len(expected & set(step[1])), -len(step[0])))
    if not stripped:
        return source
    return source.renamed(names, f"{source.path.name}: stripped the key prefix `{stripped}` (pass --strip-prefix to choose)")


# --------------------------------------------------------------------------- writing
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


def is_orbax_path(path: str | os.PathLike) -> bool:
    """An output path names an Orbax directory when it has no suffix or ends with ``/``."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).suffix == ""


def variables_format(path: str | os.PathLike) -> str:
    """``msgpack``, ``safetensors`` or ``orbax`` for a Flax-variables output path, or a UsageError."""
    if is_orbax_path(path):
        return "orbax"
    suffix = Path(path).suffix
    if suffix in (".msgpack", ".safetensors"):
        return suffix[1:]
    raise UsageError(f"{path}: unknown output format (expected .msgpack, .safetensors, or a directory path for Orbax)")


def save_variables(variables: Variables, path: str | os.PathLike, force: bool = False) -> None:
    """Write Flax variables as ``.msgpack`` (flax.serialization's format), ``.safetensors``
    (``/``-joined keys) or an Orbax checkpoint directory (a path with no suffix or ending in ``/``)."""
    kind = variables_format(path)
    path = Path(path)
    refuse_overwrite(path, force)
    if kind == "orbax":
        save_orbax(variables, path)
    elif kind == "msgpack":
        write_atomically(path, lambda tmp: write_msgpack(variables, tmp))
    else:
        write_atomically(path, lambda tmp: write_safetensors(flatten_variables(variables), tmp))


def load_variables(path: str | os.PathLike) -> Variables:
    """Flax variables from ``.msgpack``, ``.safetensors`` or an Orbax directory (the inverse of :func:`save_variables`)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        if path.is_dir():
            return load_orbax(path)
        if path.suffix == ".msgpack":
            from flax import serialization

            restored = serialization.msgpack_restore(path.read_bytes())
            if not isinstance(restored, Mapping):
                raise ValueError("not a mapping of variables")
            return restored
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return unflatten_variables(load_file(str(path)))
    except UsageError:
        raise
    except Exception as error:
        raise UsageError(f"{path}: not readable Flax variables ({type(error).__name__}: {(str(error).splitlines() or [''])[0]})") from None
    raise UsageError(f"{path}: unknown variables format (expected .msgpack, .safetensors or an Orbax directory)")


# safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor bytes
_SAFETENSORS_DTYPES = {
    np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
    np.dtype(ml_dtypes.bfloat16): "BF16", np.dtype(ml_dtypes.float8_e4m3fn): "F8_E4M3",
    np.dtype(ml_dtypes.float8_e5m2): "F8_E5M2", np.dtype(np.int64): "I64", np.dtype(np.int32): "I32",
    np.dtype(np.int16): "I16", np.dtype(np.int8): "I8", np.dtype(np.uint64): "U64", np.dtype(np.uint32): "U32",
    np.dtype(np.uint16): "U16", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL",
}


def write_safetensors(tensors: Mapping[str, np.ndarray], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file one tensor at a time, from each array's own buffer (no second copy)."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for key, array in tensors.items():
        if array.dtype not in _SAFETENSORS_DTYPES:
            raise UsageError(f"{key}: dtype {array.dtype} cannot be stored in safetensors")
        header[key] = {"dtype": _SAFETENSORS_DTYPES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(encoded)))
        file.write(encoded)
        for array in tensors.values():
            file.write(_raw_bytes(array))


def _raw_bytes(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


def write_msgpack(variables: Mapping, path: Path) -> None:
    """Write ``flax.serialization.msgpack_serialize(variables)``'s format, streaming each array's bytes.

    An array is msgpack extension type 1 holding ``(shape, dtype name, raw bytes)``; arrays over
    flax's chunk size (1 GiB) are handed to flax, which splits them.
    """
    import msgpack
    from flax import serialization

    packer = msgpack.Packer(use_bin_type=True)
    with open(path, "wb") as file:

        def write(tree) -> None:
            if isinstance(tree, Mapping):
                file.write(packer.pack_map_header(len(tree)))
                for name, value in tree.items():
                    file.write(packer.pack(str(name)))
                    write(value)
                return
            array = np.asarray(tree)
            if array.nbytes > serialization.MAX_CHUNK_SIZE:
                file.write(serialization.msgpack_serialize(array))
                return
            head = packer.pack_array_header(3) + packer.pack(list(array.shape)) + packer.pack(array.dtype.name)
            head += b"\xc6" + struct.pack(">I", array.nbytes)  # bin 32
            file.write(b"\xc9" + struct.pack(">I", len(head) + array.nbytes) + b"\x01")  # ext 32, type 1 (ndarray)
            file.write(head)
            file.write(_raw_bytes(array))

        write(variables)


def save_orbax(variables: Variables, path: Path) -> None:
    """An Orbax (PyTree) checkpoint directory, written next to ``path`` and renamed into place."""
    import orbax.checkpoint as ocp

    if not flatten_variables(variables):
        raise UsageError(f"{path}: the model has no parameters or buffers, and Orbax cannot write an empty tree; "
                         "write .msgpack or .safetensors instead")
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        checkpointer = ocp.PyTreeCheckpointer()
        checkpointer.save(staging / "ckpt", _as_numpy_tree(variables))
        if hasattr(checkpointer, "wait_until_finished"):
            checkpointer.wait_until_finished()
        if path.exists():  # --force: move the old one aside, then drop it once the new one is in place
            old = staging / "old"
            os.replace(path, old)
        os.replace(staging / "ckpt", path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_orbax(path: Path) -> Variables:
    import orbax.checkpoint as ocp

    restored = ocp.PyTreeCheckpointer().restore(path.absolute())
    return _as_numpy_tree(restored)


def _as_numpy_tree(tree):
    if isinstance(tree, Mapping):
        return {k: _as_numpy_tree(v) for k, v in tree.items()}
    return np.asarray(tree)


# --------------------------------------------------------------------------- PyTorch state dicts out
def torch_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix
    if suffix in TORCH_SUFFIXES:
        return "torch"
    if suffix == ".safetensors":
        return "safetensors"
    raise UsageError(f"{path}: unknown output format (expected .pt, .pth, .bin or .safetensors)")


def save_state_dict(state: Mapping[str, np.ndarray], path: str | os.PathLike, force: bool = False) -> None:
    """Write a PyTorch state dict: ``torch.save`` for ``.pt``/``.pth``/``.bin``, else safetensors."""
    kind = torch_format(path)
    path = Path(path)
    refuse_overwrite(path, force)
    if kind == "torch":
        tensors = {k: numpy_to_tensor(v) for k, v in state.items()}  # shares the arrays' memory
        write_atomically(path, lambda tmp: torch.save(tensors, tmp))
    else:
        write_atomically(path, lambda tmp: write_safetensors(state, tmp, {"format": "pt"}))
