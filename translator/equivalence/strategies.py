"""Hypothesis strategies for equivalence tests, public so users can write their own properties.

Float inputs are drawn as a seeded dense array times a drawn scale (several
orders of magnitude: PITFALLS.md shows that eps and variance traps only show at
small scales or with an offset), sometimes with a mean offset of up to 30
times the scale, and sometimes
with exact zeros sprinkled in (kinks of ReLU-like functions).  Hypothesis
shrinks toward scale 1, no offset and no zeros.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from translator.equivalence.specs import InputSpec

SCALES = (1.0, 0.01, 10.0, 1e-3, 100.0)


@st.composite
def float_arrays(draw, shape: tuple[int, ...], *, dtype: str = "float32", offset: bool = True, zeros: bool = True) -> np.ndarray:
    """A dense float array of ``shape``: Gaussian * scale (+ offset), with optional exact zeros."""
    if any(d <= 0 for d in shape):
        raise ValueError(f"shape must be positive, got {shape}")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from(SCALES))
    values = rng.standard_normal(shape) * scale
    if offset and draw(st.booleans()):
        # a mean offset up to 30x the spread: the stress regime of PITFALLS.md section 3 (fast-variance
        # traps grow with the square of the ratio). At 100x, values of a near-constant image differ by a
        # few ulps after a convolution, and a max pool's argmax (so its gradient) flips between any two
        # float32 implementations: measured 2.4% input-gradient differences on a correct LeNet-5
        values += scale * draw(st.sampled_from([3.0, -3.0, 30.0]))
    if zeros and draw(st.booleans()):
        values[rng.random(shape) < 0.2] = 0.0
    return values.astype(dtype)


@st.composite
def int_arrays(draw, shape: tuple[int, ...], *, low: int, high: int, dtype: str = "int64") -> np.ndarray:
    """Integers in ``[low, high)``, always including both ends of the range when the array is large enough."""
    if high <= low:
        raise ValueError(f"empty range [{low}, {high})")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.integers(low, high, size=shape)
    flat = values.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = low, high - 1
    return values.astype(dtype)


def input_arrays(spec: InputSpec, *, offset: bool = True) -> st.SearchStrategy[np.ndarray]:
    """The strategy for one ``--input`` spec."""
    if spec.is_float:
        return float_arrays(spec.shape, dtype="float32" if spec.dtype == "bfloat16" else spec.dtype, offset=offset)
    if spec.dtype == "bool":
        return int_arrays(spec.shape, low=0, high=2).map(lambda a: a.astype(bool))
    return int_arrays(spec.shape, low=spec.low, high=spec.high, dtype=spec.dtype)


def model_inputs(specs: list[InputSpec], *, offset: bool = True) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    return st.tuples(*(input_arrays(s, offset=offset) for s in specs))
