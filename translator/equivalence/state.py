"""Trained-like state: the parameters and buffers both models are compared with.

At PyTorch's default initialisation every norm layer has scale 1 and shift 0 and batch norm has
running mean 0 and running variance 1, so a translation that ignores the running mean, drops an
epsilon from the running-variance path, applies an affine in the wrong order or leaves a PReLU
slope at its default is invisible (PITFALLS.md section 7: output rel. error 3e-7, about 100 %
off with a trained checkpoint's statistics).  Before comparing, :func:`trained_like_state`
gives every floating tensor values like a trained model's, from a seed (the ``w=`` part of an
example's recipe), identical on both sides through the port:

* norm layers (batch/instance/group/layer/RMS norm, and any module with ``running_mean`` and
  ``running_var``): scales in [0.5, 1.5], shifts ~ N(0, 0.5), running means ~ N(0, 1) times
  ``10^U(-1, 0.5)``, running variances ``10^U(-1.5, 1.5)`` (three orders of magnitude);
* any other parameter that is constant (zeros, ones, a PReLU's 0.25, a layer scale of 1e-6, a class
  token or a positional table initialised to zeros): spread around its magnitude, at least 0.1
  (``sign(c) * max(|c|, 0.1) * U(0.5, 1.5)``), or ``N(0, 0.1)`` where it is zero, so a translation
  that drops it, broadcasts it wrongly or breaks the branch a layer scale gates shows;
* parameters that are already random (conv and linear weights, embeddings): kept as initialised,
  then multiplied by ``U(0.8, 1.25)`` per tensor (so a weight's default scale is no anchor);
* buffers other than running statistics (a causal mask, a sinusoidal table, an ``eps``, an EMA
  started at zero, ``num_batches_tracked``) are kept: they are constants of the architecture or
  state that the forward pass itself updates (compared after the forward pass).

With ``check --weights CKPT`` the user's checkpoint is the state instead, unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

NORM_CLASSES = (
    torch.nn.modules.batchnorm._NormBase,
    torch.nn.GroupNorm,
    torch.nn.LayerNorm,
    *((torch.nn.RMSNorm,) if hasattr(torch.nn, "RMSNorm") else ()),
)
RUNNING_STATISTICS = ("running_mean", "running_var")


def trained_like_state(model: torch.nn.Module, seed: int, base: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """A state dict (numpy, every name ``model.state_dict()`` has) with trained-like values, drawn from ``seed``.

    ``base`` is the state the values are derived from (default: the model's current one); the
    result is deterministic in ``seed`` and ``base``.  The model itself is not modified.
    """
    rng = np.random.default_rng(seed)
    if base is None:
        base = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    state = {name: np.array(value, copy=True) for name, value in base.items()}
    norm_tensors = _norm_tensors(model)
    parameters = {name for name, _ in model.named_parameters(remove_duplicate=False)}
    for name in sorted(state):
        value = state[name]
        if not np.issubdtype(value.dtype, np.floating) or value.size == 0:
            continue
        role = norm_tensors.get(name)
        if role is not None:
            state[name] = norm_value(role, value.shape, rng).astype(value.dtype)
        elif name in parameters and _is_constant(value):
            state[name] = spread_constant(value, rng)
        elif name in parameters:
            state[name] = (value * rng.uniform(0.8, 1.25)).astype(value.dtype)
    _keep_ties(model, state)
    return state


def norm_value(role: str, shape, rng: np.random.Generator) -> np.ndarray:
    """Values of a norm layer's ``weight``/``bias``/``running_mean``/``running_var`` like a trained model's."""
    if role == "weight":
        return rng.uniform(0.5, 1.5, shape)
    if role == "bias":
        return rng.normal(0.0, 0.5, shape)
    if role == "running_mean":
        return rng.normal(0.0, 1.0, shape) * 10 ** rng.uniform(-1.0, 0.5, shape)
    return 10 ** rng.uniform(-1.5, 1.5, shape)  # running_var


#: a constant parameter smaller than this (a layer scale of 1e-6) gets a trained-like magnitude: at 1e-6 the branch
#: behind it contributes nothing a comparison could see
SMALLEST_CONSTANT = 0.1


def spread_constant(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A constant tensor spread around its magnitude, at least ``SMALLEST_CONSTANT`` (zero: ``N(0, 0.1)``)."""
    constant = float(value.reshape(-1)[0])
    if constant == 0.0:
        return rng.normal(0.0, 0.1, value.shape).astype(value.dtype)
    magnitude = np.sign(constant) * max(abs(constant), SMALLEST_CONSTANT)
    return (magnitude * rng.uniform(0.5, 1.5, value.shape)).astype(value.dtype)


def _is_constant(value: np.ndarray) -> bool:
    flat = value.reshape(-1)
    return bool(np.all(flat == flat[0]))


def _norm_tensors(model: torch.nn.Module) -> dict[str, str]:
    """State-dict names of norm layers' tensors -> their role (weight, bias, running_mean, running_var)."""
    roles = {}
    for prefix, module in model.named_modules():
        is_norm = isinstance(module, NORM_CLASSES) or all(hasattr(module, n) for n in RUNNING_STATISTICS)
        if not is_norm:
            continue
        for role in ("weight", "bias", *RUNNING_STATISTICS):
            if isinstance(getattr(module, role, None), torch.Tensor):
                roles[f"{prefix}.{role}" if prefix else role] = role
    return roles


def _keep_ties(model: torch.nn.Module, state: dict[str, np.ndarray]) -> None:
    """Names of one shared Parameter (weight tying) keep one value: the first name's."""
    first: dict[int, str] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        owner = first.setdefault(id(parameter), name)
        if owner != name and owner in state and name in state:
            state[name] = state[owner]


def load_into(model: torch.nn.Module, state: dict[str, np.ndarray]) -> None:
    """Copy ``state`` into ``model``'s tensors in place (each cast to the tensor's dtype and device)."""
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if name in state:
                tensor.copy_(torch.as_tensor(state[name]).to(dtype=tensor.dtype, device=tensor.device))
