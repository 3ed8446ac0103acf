"""Hypothesis strategies for equivalence tests, public so users can write their own properties.

Float inputs are drawn as a seeded dense array times a drawn scale (several
orders of magnitude: PITFALLS.md shows that eps and variance traps only show at
small scales or with an offset), sometimes with a mean offset of up to 30
times the scale, and sometimes
with exact zeros sprinkled in (kinks of ReLU-like functions).  Hypothesis
shrinks toward scale 1, no offset and no zeros.

Every array is a pure function of a few drawn numbers (a :class:`Draw`), so an
example is fully described by its :class:`Recipe` -- the batch size, one draw
per input and the cotangent seed -- and ``check --replay RECIPE`` rebuilds it
exactly (the reproducing command of a failed check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from translator.diagnostics import UsageError
from translator.equivalence.specs import BATCH_RANGE, DEFAULT_BATCH, InputSpec

SCALES = (1.0, 0.01, 10.0, 1e-3, 100.0)
OFFSETS = (3.0, -3.0, 30.0)


@dataclass(frozen=True)
class Draw:
    """What one input array is made from: a generator seed, and for floats scale, offset (x scale), zeros."""

    seed: int
    scale: float = 1.0
    offset: float = 0.0
    zeros: bool = False

    def float_array(self, shape, dtype="float32") -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        values = rng.standard_normal(shape) * self.scale
        if self.offset:
            # a mean offset up to 30x the spread: the stress regime of PITFALLS.md section 3 (fast-variance
            # traps grow with the square of the ratio). At 100x, values of a near-constant image differ by a
            # few ulps after a convolution, and a max pool's argmax (so its gradient) flips between any two
            # float32 implementations: measured 2.4% input-gradient differences on a correct LeNet-5
            values += self.scale * self.offset
        if self.zeros:
            values[rng.random(shape) < 0.2] = 0.0
        return values.astype(dtype)

    def int_array(self, shape, low: int, high: int, dtype="int64") -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        values = rng.integers(low, high, size=shape)
        flat = values.reshape(-1)
        if flat.size >= 2:
            flat[0], flat[-1] = low, high - 1
        return values.astype(dtype)

    def array(self, spec: InputSpec) -> np.ndarray:
        if spec.is_float:
            return self.float_array(spec.shape, "float32" if spec.dtype == "bfloat16" else spec.dtype)
        if spec.dtype == "bool":
            return self.int_array(spec.shape, 0, 2).astype(bool)
        return self.int_array(spec.shape, spec.low, spec.high, spec.dtype)

    def __str__(self) -> str:
        text = f"s{self.seed}"
        if self.scale != 1.0:
            text += f",x{self.scale:g}"
        if self.offset:
            text += f",o{self.offset:g}"
        if self.zeros:
            text += ",z"
        return text

    @classmethod
    def parse(cls, text: str) -> Draw:
        seed, scale, offset, zeros = None, 1.0, 0.0, False
        for part in text.split(","):
            key, value = part[:1], part[1:]
            if key == "s":
                seed = int(value)
            elif key == "x":
                scale = float(value)
            elif key == "o":
                offset = float(value)
            elif key == "z" and not value:
                zeros = True
            else:
                raise ValueError(part)
        if seed is None:
            raise ValueError("no seed")
        return cls(seed, scale, offset, zeros)


@dataclass(frozen=True)
class Recipe:
    """One whole example: the batch size (for ``B`` dims), one :class:`Draw` per input, the cotangent seed,
    and the seed of the trained-like state both models hold (``state.py``).

    ``str(recipe)`` is the ``--replay`` argument, e.g. ``B=2;g=7;w=5;in0=s123,x0.01,o3,z``.
    """

    draws: tuple[Draw, ...]
    cotangent_seed: int = 0
    batch: int = DEFAULT_BATCH
    state_seed: int = 0

    def specs(self, specs: list[InputSpec]) -> list[InputSpec]:
        return [s.resolve(self.batch) for s in specs]

    def arrays(self, specs: list[InputSpec]) -> tuple[np.ndarray, ...]:
        return tuple(d.array(s) for d, s in zip(self.draws, self.specs(specs)))

    def __str__(self) -> str:
        return ";".join([f"B={self.batch}", f"g={self.cotangent_seed}", f"w={self.state_seed}",
                         *(f"in{i}={d}" for i, d in enumerate(self.draws))])

    @classmethod
    def parse(cls, text: str, n_inputs: int) -> Recipe:
        usage = f"--replay {text!r}: expected B=N;g=SEED;w=SEED;in0=sSEED[,xSCALE][,oOFFSET][,z];... (as printed by a failed check)"
        fields: dict[str, str] = {}
        for part in text.split(";"):
            if "=" not in part:
                raise UsageError(usage)
            key, value = part.split("=", 1)
            fields[key.strip()] = value.strip()
        try:
            draws = tuple(Draw.parse(fields[f"in{i}"]) for i in range(n_inputs))
            recipe = cls(draws, int(fields.get("g", 0)), int(fields.get("B", DEFAULT_BATCH)), int(fields.get("w", 0)))
        except (KeyError, ValueError):
            raise UsageError(usage) from None
        extra = set(fields) - {"B", "g", "w", *(f"in{i}" for i in range(n_inputs))}
        if extra or recipe.batch < 1:
            raise UsageError(usage + f" ({n_inputs} input(s))")
        return recipe


def draws(spec: InputSpec, *, offset: bool = True, zeros: bool = True, scales=SCALES) -> st.SearchStrategy[Draw]:
    """The strategy for the :class:`Draw` of one input."""
    seed = st.integers(0, 2**32 - 1)
    if not spec.is_float:
        return st.builds(Draw, seed)
    return st.builds(
        Draw,
        seed,
        st.sampled_from(scales),
        st.sampled_from((0.0, *OFFSETS)) if offset else st.just(0.0),
        st.booleans() if zeros else st.just(False),
    )


def recipes(
    specs: list[InputSpec], *, offset: bool = True, zeros: bool = True, batch_range: tuple[int, int] = BATCH_RANGE,
    scales=SCALES,
) -> st.SearchStrategy[Recipe]:
    """Whole examples; the batch size is drawn only if some spec has a ``B`` (shrinks toward the smallest)."""
    batch = st.integers(*batch_range) if any(s.has_batch for s in specs) else st.just(DEFAULT_BATCH)
    return st.builds(
        Recipe,
        st.tuples(*(draws(s, offset=offset, zeros=zeros, scales=scales) for s in specs)),
        st.integers(0, 2**31 - 1),
        batch,
        st.integers(0, 2**31 - 1),
    )


@st.composite
def float_arrays(draw, shape: tuple[int, ...], *, dtype: str = "float32", offset: bool = True, zeros: bool = True) -> np.ndarray:
    """A dense float array of ``shape``: Gaussian * scale (+ offset), with optional exact zeros."""
    if any(d <= 0 for d in shape):
        raise ValueError(f"shape must be positive, got {shape}")
    return draw(draws(InputSpec("float32", tuple(shape)), offset=offset, zeros=zeros)).float_array(shape, dtype)


@st.composite
def int_arrays(draw, shape: tuple[int, ...], *, low: int, high: int, dtype: str = "int64") -> np.ndarray:
    """Integers in ``[low, high)``, always including both ends of the range when the array is large enough."""
    if high <= low:
        raise ValueError(f"empty range [{low}, {high})")
    return Draw(draw(st.integers(0, 2**32 - 1))).int_array(shape, low, high, dtype)


def input_arrays(spec: InputSpec, *, offset: bool = True) -> st.SearchStrategy[np.ndarray]:
    """The strategy for one ``--input`` spec (with no ``B``, or ``B`` resolved)."""
    spec = spec.resolve()
    return draws(spec, offset=offset).map(lambda d: d.array(spec))


def model_inputs(specs: list[InputSpec], *, offset: bool = True) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Inputs for all specs; a ``B`` dimension is drawn once per example and shared by every input."""
    return recipes(specs, offset=offset).map(lambda r: r.arrays(specs))
