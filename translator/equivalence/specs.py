"""Input specifications for ``check``: ``DTYPE[DIMS]`` with an optional integer range.

``float32[4,1,28,28]`` is a float batch; ``int64[2,16]:0..100`` draws integers
in ``[0, 100)`` (high end exclusive, as in ``torch.randint``).  A dimension may
be ``B``, the batch size: Hypothesis varies it (``BATCH_RANGE``), and every
input with a ``B`` gets the same value in one example (``float32[B,3,32,32]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from translator.diagnostics import UsageError

SPEC = re.compile(r"^\s*(?P<dtype>[a-z]+[0-9]*)\[(?P<dims>[0-9B,\s]*)\](?::(?P<low>-?\d+)\.\.(?P<high>-?\d+))?\s*$")
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "bool")
BATCH = "B"
#: the batch sizes Hypothesis draws for ``B`` (train mode starts at 2: batch norm needs two values per channel)
BATCH_RANGE = (1, 4)
TRAIN_BATCH_RANGE = (2, 4)
#: the batch size of the structure (spec) stage and of anything that needs one fixed shape
DEFAULT_BATCH = 2


@dataclass(frozen=True)
class InputSpec:
    dtype: str
    shape: tuple[int | str, ...]  # ints, or "B" for the batch dimension
    low: int | None = None
    high: int | None = None

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def has_batch(self) -> bool:
        return BATCH in self.shape

    def resolve(self, batch: int = DEFAULT_BATCH) -> InputSpec:
        """This spec with ``B`` replaced by ``batch`` (itself if it has no ``B``)."""
        if not self.has_batch:
            return self
        return InputSpec(self.dtype, tuple(batch if d == BATCH else d for d in self.shape), self.low, self.high)

    def __str__(self) -> str:
        text = f"{self.dtype}[{','.join(map(str, self.shape))}]"
        return text if self.low is None else f"{text}:{self.low}..{self.high}"


def parse_spec(text: str) -> InputSpec:
    match = SPEC.match(text)
    example = "expected DTYPE[DIMS] or DTYPE[DIMS]:LOW..HIGH, e.g. float32[4,1,28,28], float32[B,3,32,32] or int64[2,16]:0..100"
    if match is None:
        raise UsageError(f"--input {text!r}: {example}")
    dtype = match["dtype"]
    if dtype not in FLOAT_DTYPES + INT_DTYPES:
        raise UsageError(f"--input {text!r}: unknown dtype {dtype!r} (one of {', '.join(FLOAT_DTYPES + INT_DTYPES)})")
    dims = [d.strip() for d in match["dims"].split(",") if d.strip()]
    if any(d != BATCH and not d.isdigit() for d in dims):
        raise UsageError(f"--input {text!r}: a dimension is a positive integer or B (the batch size), e.g. float32[B,3,32,32]")
    shape = tuple(BATCH if d == BATCH else int(d) for d in dims)
    if any(d != BATCH and d <= 0 for d in shape):
        raise UsageError(f"--input {text!r}: dimensions must be positive")
    low = int(match["low"]) if match["low"] is not None else None
    high = int(match["high"]) if match["high"] is not None else None
    if low is not None and dtype in FLOAT_DTYPES:
        raise UsageError(f"--input {text!r}: a range applies to integer inputs only")
    if low is None and dtype in INT_DTYPES and dtype != "bool":
        raise UsageError(f"--input {text!r}: integer inputs need a range, e.g. {dtype}[{','.join(dims)}]:0..100")
    if low is not None and high <= low:
        raise UsageError(f"--input {text!r}: empty range {low}..{high} (the high end is exclusive)")
    return InputSpec(dtype, shape, low, high)


def resolve_all(specs: list[InputSpec], batch: int = DEFAULT_BATCH) -> list[InputSpec]:
    return [s.resolve(batch) for s in specs]


def example_arrays(specs: list[InputSpec], batch: int = DEFAULT_BATCH, seed: int = 0) -> list[np.ndarray]:
    """One fixed input per spec (floats as float32) (``B`` = ``batch``): what a trace runs the built model on to learn the
    ranks, dtypes and devices its shape decisions read (:mod:`translator.instance.trace`)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in resolve_all(specs, batch):
        if spec.dtype == "bool":
            arrays.append(rng.random(spec.shape) < 0.5)
        elif spec.low is not None:
            arrays.append(rng.integers(spec.low, spec.high, size=spec.shape).astype(spec.dtype))
        else:
            arrays.append(rng.standard_normal(spec.shape).astype("float32"))  # cast by the caller (numpy has no bfloat16)
    return arrays


def example_tensors(specs: list[InputSpec]) -> tuple:
    """:func:`example_arrays` as torch tensors of each spec's dtype."""
    import torch

    return tuple(torch.from_numpy(array).to(getattr(torch, spec.dtype)) for array, spec in zip(example_arrays(specs), specs))
