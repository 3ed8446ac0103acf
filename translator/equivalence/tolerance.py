"""Error measures and the tolerance policy (measured in ``../shared/PITFALLS.md`` section 3).

The bound is norm-scaled and judged per element: ``|a - b| <= rtol * max|reference| + atol``
(elementwise relative error is meaningless near zero; the scale is what the float32 floor is
measured in).  Parameter gradients are scaled by the largest gradient of the whole model, since
some gradients are mathematically zero and both frameworks return rounding noise there
(PITFALLS.md section 5).  Where PyTorch's own float32 result is measurably off (its float64 run,
or ulp-level nudges of the input, ``ties.py``), an element's bound is relaxed to ``FLOOR_FACTOR``
times that error, at most to the cap ``FLOOR_CAP * rtol * scale``; past the cap the element is
undecided and the verdict inconclusive.  Where the translation is also run in float64 and agrees
with PyTorch's float64 run on the whole quantity (within ``FLOAT64_AGREEMENT * rtol * scale``),
float64 has decided that both compute the same function: an element within ``FLOOR_FACTOR`` times
the quantity's largest float32 floor is *settled*, uncapped (an ill-conditioned quantity, such as
a gradient through batch norms over a few values, where XLA's float32 rounding lands elsewhere and
up to a few times larger than PyTorch's; a float32-unstable formula is far past that and fails).
Integers and bools are compared exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    """The error of one quantity (possibly many tensors) against its reference, judged element by element.

    Each element must satisfy ``|a - b| <= rtol * scale + atol`` (the policy bound).  An element past
    it is *relaxed* when PyTorch's own float32 error at that element (``|float32 - float64|``, the
    floor) explains it, ``|a - b| <= FLOOR_FACTOR * floor_i``, and the relaxed bound stays under the cap
    ``FLOOR_CAP * rtol * scale``; past the cap float32 itself cannot decide, and the element is
    *undecided* (the verdict is inconclusive, never a pass).  Anything else is *failing*.
    Integer and bool quantities are compared exactly; NaN/inf must sit at the same positions.
    """

    max_abs: float = 0.0
    scale: float = 0.0  # the max |reference| the error is measured against
    #: PyTorch's own float32 error on this quantity (max |float32 - float64|): the floor no port can beat
    floor: float = 0.0
    #: elements past the policy bound but explained by the floor (and under the cap)
    relaxed: int = 0
    #: the largest bound a relaxed element needed, relative to ``scale``
    relaxed_to: float = 0.0
    #: elements that only the floor could explain, past the cap: float32 cannot decide
    undecided: int = 0
    failing: int = 0
    #: elements explained by tie-breaking in a max-type op (near ties counted at this input): relaxed, uncapped
    tie_relaxed: int = 0
    #: elements within the quantity's float32 floor where both float64 runs agree: relaxed, uncapped
    settled: int = 0
    #: max |translation in float64 - PyTorch in float64| / scale, where the translation was run in float64
    float64_gap: float | None = None
    #: the reference holds elements but none is finite: nothing was really compared
    no_finite_reference: bool = False
    tolerance: Tolerance | None = None  # the tolerance the counts were computed with

    @property
    def max_rel(self) -> float:
        return self.max_abs / self.scale if self.scale > 0 else (0.0 if self.max_abs == 0 else float("inf"))

    def allowed(self, tolerance: Tolerance) -> float:
        """The largest bound any element was held to (for reporting and ranking)."""
        base = tolerance.bound(self.scale)
        return max(base, min(FLOOR_FACTOR * self.floor, cap(tolerance, self.scale)))

    def within(self, tolerance: Tolerance) -> bool:
        """No failing and no undecided element (judged with ``tolerance``)."""
        if self.tolerance is not None and self.tolerance != tolerance:
            return bool(np.isfinite(self.max_abs)) and self.max_abs <= self.allowed(tolerance)
        return self.failing == 0 and self.undecided == 0 and not self.no_finite_reference and bool(np.isfinite(self.max_abs))

    def inconclusive(self, tolerance: Tolerance) -> bool:
        """Nothing fails, but float32 cannot decide some element (or there was nothing finite to compare)."""
        return self.failing == 0 and bool(np.isfinite(self.max_abs)) and (self.undecided > 0 or self.no_finite_reference) \
            and (self.tolerance is None or self.tolerance == tolerance)

    @property
    def severity(self) -> int:
        return 2 if self.failing or not np.isfinite(self.max_abs) else (1 if self.undecided or self.no_finite_reference else 0)


FLOOR_FACTOR = 10.0
#: both float64 runs agree within this fraction of the policy bound: float64 decides the example
FLOAT64_AGREEMENT = 1e-3
#: the floor relaxes an element's bound to at most this many times the policy's rtol
FLOOR_CAP = 100.0


def cap(tolerance: Tolerance, scale: float) -> float:
    return FLOOR_CAP * tolerance.rtol * scale + tolerance.atol


def is_exact_dtype(dtype) -> bool:
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_)


def error_of(actual, reference, scale: float | None = None, floor_reference=None, tolerance: Tolerance | None = None,
             sensitivity=None, near_ties: int = 0, actual_float64=None, quantity_floor: float | None = None) -> Error:
    """Element-wise judged error of ``actual`` against ``reference`` (see :class:`Error`).

    ``scale`` defaults to ``max|reference|`` (finite elements); ``floor_reference`` is the same
    quantity computed by PyTorch in float64.  Integer and bool references are compared exactly.
    ``sensitivity`` is how far PyTorch's own float32 result moves when the input is nudged by a few
    ulps (per element): with ``near_ties`` > 0 (max-type windows whose winners are within rounding
    of each other at this input), an element explained by it is relaxed without the cap -- the two
    frameworks' rounding picked different winners -- and otherwise it counts as floor (capped).
    ``actual_float64`` is the translation's own float64 run: where it agrees with ``floor_reference``
    on the whole quantity, an element within ``FLOOR_FACTOR`` times the quantity's largest floor is settled
    (``quantity_floor``: that floor where the quantity spans several calls, as parameter gradients do; else this
    array's).
    """
    tolerance = tolerance or Tolerance()
    reference_raw = np.asarray(reference)
    actual = np.asarray(actual, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return Error(float("inf"), 0.0, failing=max(reference.size, 1), tolerance=tolerance)
    if actual.size == 0:
        return Error(0.0, 0.0, tolerance=tolerance)
    if is_exact_dtype(reference_raw.dtype):
        diff = np.abs(actual - reference)
        wrong = int(np.count_nonzero(diff))
        return Error(float(diff.max()), float(np.abs(reference).max()), failing=wrong, tolerance=tolerance)
    same_nonfinite = (~np.isfinite(actual) & ~np.isfinite(reference)) & (np.isnan(actual) == np.isnan(reference))
    same_nonfinite &= np.isnan(actual) | (np.sign(actual) == np.sign(reference))  # +inf vs -inf differ
    with np.errstate(invalid="ignore"):
        diff = np.where(same_nonfinite, 0.0, np.abs(actual - reference))
    diff = np.where(np.isnan(diff), np.inf, diff)
    finite = np.isfinite(reference)
    if scale is None:
        scale = float(np.abs(reference[finite]).max()) if finite.any() else 0.0
    gap = np.zeros_like(diff)
    if floor_reference is not None:  # the same quantity computed by PyTorch in float64
        exact = np.asarray(floor_reference, dtype=np.float64)
        if exact.shape == reference.shape:
            with np.errstate(invalid="ignore"):
                gap = np.abs(reference - exact)
            gap = np.where(np.isfinite(gap), gap, 0.0)
    base = tolerance.bound(scale)
    limit = cap(tolerance, scale)
    ties = np.zeros(diff.shape, bool)
    if sensitivity is not None and np.shape(sensitivity) == diff.shape:
        gap = np.maximum(gap, np.where(np.isfinite(sensitivity), np.asarray(sensitivity, np.float64), 0.0))
        if near_ties:  # past the cap, but PyTorch itself moves that much: the winners of near ties flipped
            ties = (diff > limit) & (diff <= FLOOR_FACTOR * gap)
    settled = np.zeros(diff.shape, bool)
    float64_gap = None
    if actual_float64 is not None and floor_reference is not None and np.shape(actual_float64) == diff.shape \
            and np.shape(floor_reference) == diff.shape:
        wide, exact = np.asarray(actual_float64, np.float64), np.asarray(floor_reference, np.float64)
        with np.errstate(invalid="ignore"):
            agreement = np.where(np.isfinite(wide) & np.isfinite(exact), np.abs(wide - exact), 0.0)
        float64_gap = float(agreement.max()) / scale if scale > 0 else float(agreement.max())
        if agreement.max() <= FLOAT64_AGREEMENT * tolerance.rtol * scale:
            # the same function: an element is held to the quantity's float32 floor, not its own (where float32
            # rounding lands differs between the frameworks), so the translation is at most FLOOR_FACTOR times
            # less accurate than PyTorch's float32 here; an unstable float32 formula still fails
            largest = gap.max() if quantity_floor is None else max(float(gap.max()), quantity_floor)
            settled = (diff > base) & (diff <= FLOOR_FACTOR * largest)
    explained = FLOOR_FACTOR * gap
    over = (diff > base) & ~ties & ~settled
    failing = over & (diff > explained)
    undecided = over & ~failing & (diff > limit)
    relaxed = over & ~failing & ~undecided
    return Error(
        float(diff.max()), scale, float(gap.max()),
        relaxed=int(relaxed.sum()),
        relaxed_to=float(diff[relaxed].max() / scale) if relaxed.any() and scale > 0 else 0.0,
        undecided=int(undecided.sum()), failing=int(failing.sum()), tie_relaxed=int(ties.sum()),
        settled=int(settled.sum()), float64_gap=float64_gap, no_finite_reference=not finite.any(), tolerance=tolerance,
    )


def worst(errors, tolerance: Tolerance | None = None) -> Error:
    """The measurement that decides the verdict, for reporting: failing before undecided before
    passing, then the largest ``max_abs / bound``; the element counts are summed over all.

    Ranking by ``max_abs / bound`` rather than by relative error keeps a tensor
    of pure rounding noise (a gradient that is mathematically ~0, where ``atol``
    decides) from hiding the figures that matter.
    """
    tolerance = tolerance or Tolerance()
    result, key = Error(tolerance=tolerance), (-1, -1.0)
    relaxed = undecided = failing = tie_relaxed = settled = 0
    float64_gaps = []
    relaxed_to = 0.0
    any_error = False
    for error in errors:
        any_error = True
        relaxed, undecided, failing = relaxed + error.relaxed, undecided + error.undecided, failing + error.failing
        tie_relaxed += error.tie_relaxed
        settled += error.settled
        if error.float64_gap is not None:
            float64_gaps.append(error.float64_gap)
        relaxed_to = max(relaxed_to, error.relaxed_to)
        ratio = error.max_abs / error.allowed(tolerance) if error.allowed(tolerance) > 0 else (0.0 if error.max_abs == 0 else float("inf"))
        candidate = (error.severity, ratio)
        if candidate > key:
            result, key = error, candidate
    if not any_error:
        return result
    return replace(result, relaxed=relaxed, relaxed_to=relaxed_to, undecided=undecided, failing=failing, tie_relaxed=tie_relaxed,
                   settled=settled, float64_gap=max(float64_gaps) if float64_gaps else None)
