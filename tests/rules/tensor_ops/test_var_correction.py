"""T008's support function ``torch_var`` where the correction leaves no degrees of freedom (N <= c):
PyTorch's output is inf, and its gradient is its backward formula, not the output's derivative: over a
``dim``, ``2 (x - mean) g / (N - c)`` (+-inf for N = c, finite for N < c); over every element, ``g * inf``
(nan where x equals the mean). The output's own derivative was nan everywhere (CI draw
T2F_SEED=4214399949: ``torch.var(x, dim=1, correction=2)`` of a dimension of size 2)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from translator.rules.tensor_ops.statistics import TORCH_VAR, TORCH_VAR_SOURCE


def torch_var():
    namespace = {"jax": jax, "jnp": jnp, "partial": partial}
    exec(TORCH_VAR_SOURCE, namespace)
    return namespace[TORCH_VAR]


@pytest.mark.parametrize(("shape", "axis", "correction"), [
    ((4, 2, 4), 1, 2), ((3, 5), None, 20), ((3, 5), None, 15), ((2, 3), 1, 3), ((2, 3), 1, 5), ((2, 3, 2), (0, 2), 4), ((2, 6), 1, 3),
])
def test_outputs_and_gradients_are_pytorchs_with_and_without_degrees_of_freedom(shape, axis, correction):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    t = torch.tensor(x, requires_grad=True)
    out = torch.var(t, dim=axis, correction=correction, keepdim=True)
    g = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    out.backward(torch.from_numpy(g))
    var = torch_var()
    ours = var(jnp.asarray(x), axis, correction, True)
    grad = jax.grad(lambda v: jnp.vdot(var(v, axis, correction, True), g))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(ours), out.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), t.grad.numpy(), rtol=1e-4, atol=1e-6)
