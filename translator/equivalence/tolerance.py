"""Error measures and the tolerance policy (measured in ``../shared/PITFALLS.md`` section 3).

Errors are norm-wise: ``max|a - b|`` against ``max|reference|``.  Elementwise
relative error is meaningless near zero; norm-wise error is what the float32
floor is measured in.  Parameter gradients are scaled by the largest gradient
of the whole model, since some gradients are mathematically zero and both
frameworks return rounding noise there (PITFALLS.md section 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: whole-model float32 policy: measured floor of jax-vs-torch models is r <= 1.75e-6; 1e-4 leaves
#: ~50x headroom for depth while every trap in PITFALLS.md exceeds it in the regime that exposes it
MODEL_RTOL = {"float32": 1e-4, "float64": 1e-10, "float16": 1e-2, "bfloat16": 5e-2}
#: single layer/op policy: 1e-5 norm-wise, ~8-10x above the measured worst case
LAYER_RTOL = {"float32": 1e-5, "float64": 1e-12, "float16": 5e-3, "bfloat16": 3e-2}


@dataclass(frozen=True)
class Tolerance:
    """``max|a - b| <= rtol * scale + atol`` where scale is ``max|reference|`` of the quantity."""

    rtol: float = MODEL_RTOL["float32"]
    atol: float = 1e-7

    def bound(self, scale: float) -> float:
        return self.rtol * scale + self.atol


@dataclass(frozen=True)
class Error:
    """The error of one quantity (possibly many tensors) against its reference."""

    max_abs: float = 0.0
    scale: float = 0.0  # the max |reference| the error is measured against
    #: PyTorch's own float32 error on this quantity (max |float32 - float64|): the floor no port can beat
    floor: float = 0.0

    @property
    def max_rel(self) -> float:
        return self.max_abs / self.scale if self.scale > 0 else (0.0 if self.max_abs == 0 else float("inf"))

    def allowed(self, tolerance: Tolerance) -> float:
        """The policy bound, or a multiple of the measured float32 floor where that is larger.

        Some quantities are ill-conditioned in float32 for the input drawn (the gradient of a
        bias feeding a batch norm is a sum that cancels to ~0): there PyTorch's own result is
        off from the float64 one by more than the policy allows, and a port can only be asked
        to be as close as ``FLOOR_FACTOR`` times that (JAX's CPU matmul accumulates ~3x less
        accurately than PyTorch's, PITFALLS.md section 3b).
        """
        return max(tolerance.bound(self.scale), FLOOR_FACTOR * self.floor)

    def within(self, tolerance: Tolerance) -> bool:
        return bool(np.isfinite(self.max_abs)) and self.max_abs <= self.allowed(tolerance)


FLOOR_FACTOR = 10.0


def error_of(actual, reference, scale: float | None = None, floor_reference=None) -> Error:
    """Norm-wise error of ``actual`` against ``reference``; NaN/inf mismatches count as infinite."""
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return Error(float("inf"), 0.0)
    if actual.size == 0:
        return Error(0.0, 0.0)
    same_nonfinite = (~np.isfinite(actual) & ~np.isfinite(reference)) & (np.isnan(actual) == np.isnan(reference))
    same_nonfinite &= np.isnan(actual) | (np.sign(actual) == np.sign(reference))  # +inf vs -inf differ
    with np.errstate(invalid="ignore"):
        diff = np.where(same_nonfinite, 0.0, np.abs(actual - reference))
    diff = np.where(np.isnan(diff), np.inf, diff)
    if scale is None:
        finite = np.abs(reference[np.isfinite(reference)])
        scale = float(finite.max()) if finite.size else 0.0
    floor = 0.0
    if floor_reference is not None:  # the same quantity computed by PyTorch in float64
        exact = np.asarray(floor_reference, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            gap = np.abs(reference - exact)
        gap = gap[np.isfinite(gap)]
        floor = float(gap.max()) if gap.size else 0.0
    return Error(float(diff.max()), scale, floor)


def worst(errors, tolerance: Tolerance | None = None) -> Error:
    """The measurement closest to (or furthest past) its tolerance bound, for reporting.

    Ranking by ``max_abs / bound`` rather than by relative error keeps a tensor
    of pure rounding noise (a gradient that is mathematically ~0, where ``atol``
    decides) from hiding the figures that matter.
    """
    tolerance = tolerance or Tolerance()
    result, result_ratio = Error(), -1.0
    for error in errors:
        ratio = error.max_abs / error.allowed(tolerance)
        if ratio > result_ratio:
            result, result_ratio = error, ratio
    return result
