"""Named, invertible layout transforms between PyTorch tensors and Flax arrays.

Every permutation says which layout it maps from and to, so a port plan reads
like the documentation of the two frameworks' conventions.  Transforms work on
numpy arrays and are exact (pure index shuffles), so a round trip is bit-exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LayoutTransform:
    """A permutation of axes (or none), with the layouts it maps between."""

    name: str
    torch_layout: str
    flax_layout: str
    perm: tuple[int, ...] | None = None  # torch axis order as seen from flax; None = identity

    def to_flax(self, array: np.ndarray) -> np.ndarray:
        return array if self.perm is None else np.ascontiguousarray(np.transpose(array, self.perm))

    def to_torch(self, array: np.ndarray) -> np.ndarray:
        if self.perm is None:
            return array
        return np.ascontiguousarray(np.transpose(array, np.argsort(self.perm)))

    def flax_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.perm is None:
            return tuple(torch_shape)
        return tuple(torch_shape[i] for i in self.perm)

    def describe(self) -> str:
        if self.perm is None:
            return f"{self.name}: {self.torch_layout} (unchanged)"
        return f"{self.name}: {self.torch_layout} -> {self.flax_layout}"


IDENTITY = LayoutTransform("identity", "[...]", "[...]")

#: nn.Linear.weight -> nn.Dense kernel
LINEAR_WEIGHT_TO_KERNEL = LayoutTransform("linear_weight_to_kernel", "[out, in]", "[in, out]", (1, 0))


def conv_weight_to_kernel(spatial_dims: int) -> LayoutTransform:
    """Conv{1,2,3}d.weight ``[out, in/groups, *k]`` -> nn.Conv kernel ``[*k, in/groups, out]``."""
    spatial = tuple(range(2, 2 + spatial_dims))
    names = ["kw"] if spatial_dims == 1 else ["kh", "kw"] if spatial_dims == 2 else ["kd", "kh", "kw"]
    k = ", ".join(names)
    return LayoutTransform(
        f"conv{spatial_dims}d_weight_to_kernel",
        f"[out, in/groups, {k}]",
        f"[{k}, in/groups, out]",
        (*spatial, 1, 0),
    )


def conv_transpose_weight_to_kernel(spatial_dims: int) -> LayoutTransform:
    """ConvTranspose.weight ``[in, out, *k]`` -> nn.ConvTranspose(transpose_kernel=True) ``[*k, out, in]``."""
    spatial = tuple(range(2, 2 + spatial_dims))
    names = ["kw"] if spatial_dims == 1 else ["kh", "kw"] if spatial_dims == 2 else ["kd", "kh", "kw"]
    k = ", ".join(names)
    return LayoutTransform(
        f"conv_transpose{spatial_dims}d_weight_to_kernel",
        f"[in, out, {k}]",
        f"[{k}, out, in]",
        (*spatial, 1, 0),
    )
