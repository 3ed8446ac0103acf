"""Turn a rule's :class:`~translator.rules.base.RuleCase` into a model, translate it, and compare.

This is the oracle behind every rule's generated property test: a one-layer
PyTorch model is written out, translated by the full pipeline, its weights are
ported by the rule's layout, and outputs and gradients are compared with the
single-layer tolerance (1e-5 norm-wise, PITFALLS.md section 3).
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import numpy as np

from translator.equivalence.check import build_pair
from translator.equivalence.pair import Comparison
from translator.equivalence.specs import InputSpec
from translator.equivalence.tolerance import LAYER_RTOL, Tolerance
from translator.rules.base import RuleCase

CASE_TEMPLATE = """\
import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

{prelude}

class Case(nn.Module):
    def __init__(self):
        super().__init__()
{init}

    def forward(self, x):
        return {forward}
"""

LAYER_TOLERANCE = Tolerance(rtol=LAYER_RTOL["float32"], atol=1e-7)


def case_source(case: RuleCase) -> str:
    init = f"self.layer = {case.init}" if case.init else "pass"
    return CASE_TEMPLATE.format(init=textwrap.indent(init, " " * 8), forward=case.forward, prelude=case.prelude)


def case_input(case: RuleCase, seed: int) -> np.ndarray:
    """A dense input for the case: uniform in ``input_range`` or Gaussian, with exact zeros mixed in."""
    rng = np.random.default_rng(seed)
    if case.input_dtype.startswith("int"):
        low, high = case.input_range or (0, 10)
        return rng.integers(int(low), int(high), size=case.input_shape).astype(case.input_dtype)
    if case.input_range is not None:
        values = rng.uniform(*case.input_range, size=case.input_shape)
    else:
        values = rng.standard_normal(case.input_shape)
    values[rng.random(case.input_shape) < 0.1] = 0.0
    return values.astype(case.input_dtype)


def compare_case(case: RuleCase, seed: int = 0, tolerance: Tolerance = LAYER_TOLERANCE) -> Comparison:
    """Translate, port and run one case; raise AssertionError (with the source) if it differs."""
    source = case_source(case)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.py"
        path.write_text(source)
        for name, sibling in case.siblings:
            (Path(tmp) / name).write_text(sibling)
        spec = InputSpec(case.input_dtype, case.input_shape, *(case.input_range if case.input_dtype.startswith("int") else (None, None)))
        pair, _ = build_pair(path, "Case", [spec], seed=seed, train=case.train, tolerance=tolerance)
        x = case_input(case, seed)
        pair.check_structure((x,))
        comparison = pair.compare_in_mode((x,), cotangent_seed=seed)
    failing = [q for q in ("output", "grad_input", "grad_params", "state") if not getattr(comparison, q).within(tolerance)]
    if failing:
        details = "; ".join(f"{q}: abs {getattr(comparison, q).max_abs:.3g}, rel {getattr(comparison, q).max_rel:.3g}" for q in failing)
        raise AssertionError(f"{details}\nPyTorch source:\n{source}")
    return comparison
