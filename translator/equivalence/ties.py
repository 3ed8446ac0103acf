"""Near ties in max-type ops: where two frameworks' rounding can pick different winners.

A conv -> ReLU -> MaxPool2d network fed an input scaled by 1e-3 has pooling windows whose two
largest values are within one float32 step of each other (103 windows in a public CNN,
PITFALLS.md section 8).  PyTorch and XLA sum the convolution in different orders, so each picks
its own winner there; the gradient routes to different elements and the input gradient differs
by 1e-2 while outputs and parameter gradients agree.  PyTorch's float32 run agrees with its
float64 run (3e-9), so the float64 floor does not cover it.

Two measurements make that visible, both taken only when a quantity is outside its bound:

* :func:`flipping_near_ties`: forward pre-hooks on ``nn.MaxPool1d``/``nn.MaxPool2d`` count the
  windows whose two largest values are within ``TIE_ULPS`` float32 steps of the larger, and let the
  runner-up win in a random half of them (a few ulps added there: what another framework's
  rounding can do);
* :func:`nudged_inputs`: the float inputs moved by a few ulps.  PyTorch is run ``NUDGES`` times so;
  how far its own float32 result moves (per element, the most over the runs) is the quantity's
  *sensitivity* at this input.

An element outside its bound that the sensitivity explains is relaxed as tie-breaking when near
ties were counted (reported with the count), and treated like the float64 floor (capped) when
none were; a wrong pick where there is no near tie still fails.  Max pools called as functions
(``F.max_pool2d``) and other max-type ops (``max``, ``argmax``, ``topk``, ``sort``) are not hooked:
there only the input nudge measures sensitivity, and the floor's cap applies.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

#: two window values within this many float32 steps of the larger one are a near tie
TIE_ULPS = 4
#: the float inputs are nudged by up to this many float32 steps (relative) to measure sensitivity
NUDGE_ULPS = 4
#: nudged runs per measurement: each flips about half of the near ties, so four see nearly every one flipped
NUDGES = 4


@dataclass
class NearTies:
    """Near-tie windows counted per max-pool module (PyTorch name -> windows)."""

    windows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.windows.values())


def nudged_inputs(inputs, float_positions, seed: int) -> list[np.ndarray]:
    """The inputs with every float input moved by up to ``NUDGE_ULPS`` float32 steps (relative), seeded."""
    rng = np.random.default_rng(seed)
    nudged = list(inputs)
    eps = float(np.finfo(np.float32).eps)
    for position in float_positions:
        x = np.asarray(inputs[position])
        nudged[position] = (x * (1.0 + rng.uniform(-NUDGE_ULPS, NUDGE_ULPS, x.shape) * eps)).astype(x.dtype)
    return nudged


def _one(value) -> int:
    return value[0] if isinstance(value, (tuple, list)) else value


def _pool_arguments(module: torch.nn.Module):
    return dict(kernel_size=module.kernel_size, stride=module.stride, padding=module.padding, dilation=module.dilation,
                ceil_mode=module.ceil_mode)


def tie_flip(module: torch.nn.Module, x: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
    """For a ``MaxPool1d``/``MaxPool2d`` on ``x``: the windows whose two largest values are within ``TIE_ULPS``
    float32 steps of the larger (windows of zeros after a ReLU excluded: no gradient flows there either
    way), and a constant offset that makes the runner-up win in a random half of them.

    Returns ``(offset, near_ties)``; ``x + offset`` differs from ``x`` by a few ulps at those positions only.
    """
    with torch.no_grad():
        one_d = isinstance(module, torch.nn.MaxPool1d)
        values = x.detach().unsqueeze(-2) if one_d else x.detach()
        arguments = _pool_arguments(module)
        if one_d:  # MaxPool1d(kernel_size=(2,)) as well as MaxPool1d(2)
            arguments = {k: (1, _one(v)) if k != "ceil_mode" else v for k, v in arguments.items()}
            arguments["padding"] = (0, arguments["padding"][1])
        pool = F.max_pool2d
        largest, first = pool(values, return_indices=True, **arguments)
        flat = values.flatten(-2).clone()
        flat.scatter_(-1, first.flatten(-2), float("-inf"))
        second, runner_up = pool(flat.view_as(values), return_indices=True, **arguments)
        step = torch.finfo(torch.float32).eps * largest.abs()
        near = ((largest - second) <= TIE_ULPS * step) & torch.isfinite(second) & (largest != 0)
        flip = near & torch.from_numpy(rng.random(tuple(near.shape)) < 0.5).to(near.device)
        lift = torch.where(flip, largest - second + 2 * step, torch.zeros_like(largest))
        offset = torch.zeros_like(flat).scatter_reduce_(-1, runner_up.flatten(-2), lift.flatten(-2), reduce="amax")
        offset = offset.view_as(values).squeeze(-2) if one_d else offset.view_as(values)
        return offset.to(x.dtype), int(near.sum())


@contextlib.contextmanager
def flipping_near_ties(model: torch.nn.Module, rng: np.random.Generator):
    """Meanwhile every ``MaxPool1d``/``MaxPool2d`` counts its near ties and lets the runner-up win in a random half
    of them (a forward pre-hook adding :func:`tie_flip`'s offset): what another framework's rounding could do."""
    ties = NearTies()
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.MaxPool1d, torch.nn.MaxPool2d)) and not module.return_indices:
            def hook(module, args, name=name):
                try:
                    offset, count = tie_flip(module, args[0], rng)
                except Exception:  # a pool this cannot read: no sensitivity measured there, nothing flipped
                    return None
                ties.windows[name] = ties.windows.get(name, 0) + count
                return (args[0] + offset, *args[1:])
            handles.append(module.register_forward_pre_hook(hook))
    try:
        yield ties
    finally:
        for handle in handles:
            handle.remove()
