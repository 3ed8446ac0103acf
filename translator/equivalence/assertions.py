"""``assert_equivalent``: the check as a pytest assertion, for users' own tests.

    from translator import assert_equivalent

    def test_my_port():
        assert_equivalent(torch_model, FlaxModel(**cfg), variables, np_input)
"""

from __future__ import annotations

import numpy as np
import torch

from translator.equivalence.pair import ModelPair
from translator.equivalence.specs import InputSpec
from translator.equivalence.tolerance import Tolerance
from translator.weights.plan import plan_port


def assert_equivalent(
    torch_module: torch.nn.Module,
    flax_module,
    variables,
    *inputs: np.ndarray,
    rtol: float = 1e-4,
    train: bool = False,
    cotangent_seed: int = 0,
) -> None:
    """Raise AssertionError unless outputs, gradients (inputs and parameters) and buffers agree within ``rtol``.

    ``variables`` are the Flax variables for ``flax_module`` (for instance from ``port_state_dict``);
    gradients are compared under PyTorch's parameter names through the port plan of ``torch_module``.
    Both models keep the weights given (no trained-like state is drawn); PyTorch's random draws are
    replayed to the translation, as in ``check``.
    """
    inputs = tuple(np.asarray(x) for x in inputs)
    specs = [
        InputSpec(str(x.dtype), x.shape) if np.issubdtype(x.dtype, np.floating) else InputSpec(str(x.dtype), x.shape, 0, 1)
        for x in inputs
    ]
    tolerance = Tolerance(rtol=rtol)
    pair = ModelPair(torch_module, flax_module, variables, plan_port(torch_module), specs, train=train, tolerance=tolerance)
    pair.check_structure(inputs)
    comparison = pair.compare_in_mode(inputs, cotangent_seed)
    quantities = ("output", "grad_input", "grad_params", "state")
    failing = [q for q in quantities if not getattr(comparison, q).within(tolerance)]
    if comparison.uncompared:
        raise AssertionError("not compared: " + "; ".join(comparison.uncompared))
    if failing:
        details = "; ".join(
            f"{q}: max abs {getattr(comparison, q).max_abs:.3g}, rel {getattr(comparison, q).max_rel:.3g}"
            + (" (float32 cannot decide: PyTorch's own float32 error is as large)" if getattr(comparison, q).inconclusive(tolerance) else "")
            for q in failing
        )
        raise AssertionError(f"the Flax module differs from the PyTorch one (rtol {rtol:g}): {details}")
