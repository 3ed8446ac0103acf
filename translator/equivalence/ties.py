"""Near ties in max-type ops: where two frameworks' rounding can pick different winners.

A conv -> ReLU -> MaxPool2d network fed an input scaled by 1e-3 has pooling windows whose two
largest values are within one float32 step of each other (103 windows in a public CNN,
PITFALLS.md section 8).  PyTorch and XLA sum the convolution in different orders, so each picks
its own winner there; the gradient routes to different elements and the input gradient differs
by 1e-2 while outputs and parameter gradients agree.  PyTorch's float32 run agrees with its
float64 run (3e-9), so the float64 floor does not cover it.

Two measurements make that visible, both taken only when a quantity is outside its bound:

* :func:`nudged_inputs`: the float inputs moved by a few ulps; how far PyTorch's own float32
  result moves then (per element) is the quantity's *sensitivity* at this input;
* :func:`counting_near_ties`: forward hooks on ``nn.MaxPool1d``/``nn.MaxPool2d`` count the windows
  whose two largest values are within ``TIE_ULPS`` float32 steps of the larger.

An element outside its bound that the sensitivity explains is relaxed as tie-breaking when near
ties were counted (reported with the count), and treated like the float64 floor (capped) when
none were; a wrong pick where there is no near tie still fails.
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


@dataclass
class NearTies:
    """Near-tie windows counted per max-pool module (PyTorch name -> windows)."""

    windows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.windows.values())

    def describe(self) -> str:
        return ", ".join(f"{count} window(s) in `{name}`" for name, count in self.windows.items() if count)


def nudged_inputs(inputs, float_positions, seed: int) -> list[np.ndarray]:
    """The inputs with every float input moved by up to ``NUDGE_ULPS`` float32 steps (relative), seeded."""
    rng = np.random.default_rng(seed)
    nudged = list(inputs)
    eps = float(np.finfo(np.float32).eps)
    for position in float_positions:
        x = np.asarray(inputs[position])
        nudged[position] = (x * (1.0 + rng.uniform(-NUDGE_ULPS, NUDGE_ULPS, x.shape) * eps)).astype(x.dtype)
    return nudged


def near_tie_windows(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Windows of a ``MaxPool1d``/``MaxPool2d`` on ``x`` whose two largest values are within ``TIE_ULPS`` steps."""
    with torch.no_grad():
        x = x.detach().float()
        if isinstance(module, torch.nn.MaxPool1d):
            x, kernel, stride, padding, dilation = x.unsqueeze(-2), (1, _one(module.kernel_size)), \
                (1, _one(module.stride)), (0, _one(module.padding)), (1, _one(module.dilation))
        else:
            kernel, stride, padding, dilation = (_pair(module.kernel_size), _pair(module.stride), _pair(module.padding),
                                                 _pair(module.dilation))
        if x.dim() == 3:
            x = x.unsqueeze(0)
        x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=float("-inf"))
        n, c = x.shape[:2]
        windows = F.unfold(x.reshape(n * c, 1, *x.shape[2:]), kernel, dilation=dilation, stride=stride)
        if windows.shape[1] < 2:
            return 0
        top = windows.topk(2, dim=1).values
        largest, second = top[:, 0], top[:, 1]
        close = (largest - second) <= TIE_ULPS * torch.finfo(torch.float32).eps * largest.abs()
        # windows of zeros (after a ReLU) tie exactly, but no gradient flows through them either way
        return int((close & torch.isfinite(second) & (largest != 0)).sum())


def _one(value) -> int:
    return value[0] if isinstance(value, (tuple, list)) else value


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


@contextlib.contextmanager
def counting_near_ties(model: torch.nn.Module):
    """Count near-tie windows in every ``MaxPool1d``/``MaxPool2d`` that runs meanwhile."""
    ties = NearTies()
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.MaxPool1d, torch.nn.MaxPool2d)) and not module.ceil_mode:
            def hook(module, args, output, name=name):
                ties.windows[name] = ties.windows.get(name, 0) + near_tie_windows(module, args[0])
            handles.append(module.register_forward_hook(hook))
    try:
        yield ties
    finally:
        for handle in handles:
            handle.remove()
