"""Port a checkpoint: build the PyTorch model's structure, plan, read, transform, write."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from translator.loading import class_from, import_source, instantiate
from translator.weights.checkpoint import load_state_dict, save_variables
from translator.weights.plan import PortPlan, Variables, plan_port


def build_structure(source: str | os.PathLike, class_name: str, kwargs: dict) -> torch.nn.Module:
    """The PyTorch model, on the ``meta`` device (no memory for weights) when its code allows."""
    cls = class_from(import_source(source), class_name, str(source))
    try:
        with torch.device("meta"):
            return instantiate(cls, kwargs, str(source))
    except Exception:
        return instantiate(cls, kwargs, str(source))


@dataclass(frozen=True)
class PortResult:
    plan: PortPlan
    variables: Variables
    output: Path | None

    @property
    def parameter_count(self) -> int:
        return sum(int(np.prod(t.torch_shape)) for t in self.plan.tensors)


def port_state_dict(model: torch.nn.Module, state: dict[str, np.ndarray]) -> tuple[PortPlan, Variables]:
    """Flax variables for ``model`` from a state dict, by the rules' layouts."""
    plan = plan_port(model)
    return plan, plan.to_flax(state)


def port_checkpoint(
    source: str | os.PathLike,
    class_name: str,
    weights: str | os.PathLike,
    output: str | os.PathLike | None = None,
    kwargs: dict | None = None,
    force: bool = False,
) -> PortResult:
    """Read ``weights``, port them to the translation of ``class_name``, write ``output`` if given."""
    if output is not None and Path(output).exists() and not force:
        from translator.diagnostics import UsageError

        raise UsageError(f"{output}: exists; pass --force to overwrite")
    model = build_structure(source, class_name, kwargs or {})
    plan, variables = port_state_dict(model, load_state_dict(weights))
    if output is not None:
        save_variables(variables, output, force=force)
    return PortResult(plan, variables, Path(output) if output is not None else None)
