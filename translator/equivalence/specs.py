"""Input specifications for ``check``: ``DTYPE[DIMS]`` with an optional integer range.

``float32[4,1,28,28]`` is a float batch; ``int64[2,16]:0..100`` draws integers
in ``[0, 100)`` (high end exclusive, as in ``torch.randint``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from translator.diagnostics import UsageError

SPEC = re.compile(r"^\s*(?P<dtype>[a-z]+[0-9]*)\[(?P<dims>[0-9,\s]*)\](?::(?P<low>-?\d+)\.\.(?P<high>-?\d+))?\s*$")
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "bool")


@dataclass(frozen=True)
class InputSpec:
    dtype: str
    shape: tuple[int, ...]
    low: int | None = None
    high: int | None = None

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def __str__(self) -> str:
        text = f"{self.dtype}[{','.join(map(str, self.shape))}]"
        return text if self.low is None else f"{text}:{self.low}..{self.high}"


def parse_spec(text: str) -> InputSpec:
    match = SPEC.match(text)
    example = "expected DTYPE[DIMS] or DTYPE[DIMS]:LOW..HIGH, e.g. float32[4,1,28,28] or int64[2,16]:0..100"
    if match is None:
        raise UsageError(f"--input {text!r}: {example}")
    dtype = match["dtype"]
    if dtype not in FLOAT_DTYPES + INT_DTYPES:
        raise UsageError(f"--input {text!r}: unknown dtype {dtype!r} (one of {', '.join(FLOAT_DTYPES + INT_DTYPES)})")
    dims = [d.strip() for d in match["dims"].split(",") if d.strip()]
    shape = tuple(int(d) for d in dims)
    if any(d <= 0 for d in shape):
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
