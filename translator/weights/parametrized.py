"""Weight normalisation and parametrizations of built torch layers: what they are, read from the instance.

``torch.nn.utils.weight_norm(layer)`` (a forward pre-hook: parameters ``weight_g`` and ``weight_v``)
and ``torch.nn.utils.parametrizations.weight_norm(layer)`` (a parametrization: ``parametrizations.
weight.original0`` is g, ``original1`` is v) compute the same weight, ``g * v / ||v||``, the norm
taken over every axis of v but ``dim``.  Rule L060 translates both to one Flax module; the port plan
and the built-model path read them here.  Any other parametrization (``register_parametrization(
layer, "weight", L2Norm())``) is described by :func:`parametrizations_of`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch.nn.utils import parametrize


@dataclass(frozen=True)
class WeightNormed:
    """A torch layer whose ``weight`` is ``g * v / ||v||`` (either API)."""

    layer_class: type  #: the torch class it wraps (``Conv1d``, also for ``ParametrizedConv1d``)
    dim: int | None  #: PyTorch's ``dim``; None where the norm is over the whole tensor (dim None or -1)
    g_key: str  #: the state-dict key of g, relative to the layer
    v_key: str
    api: str  #: "hook" (torch.nn.utils.weight_norm) or "parametrization"

    @property
    def function(self) -> str:
        """The function that builds it, as source."""
        if self.api == "hook":
            return "torch.nn.utils.weight_norm"
        return "torch.nn.utils.parametrizations.weight_norm"


def weight_norm_of(module: torch.nn.Module) -> WeightNormed | None:
    """How ``module``'s ``weight`` is weight-normalised, or None: only a weight norm of ``weight`` that is
    the module's only hook or parametrization (anything besides changes what it computes)."""
    from torch.nn.utils.parametrizations import _WeightNorm
    from torch.nn.utils.weight_norm import WeightNorm

    hooks = list(module._forward_pre_hooks.values())
    others = any(getattr(module, kind, None) for kind in ("_forward_hooks", "_backward_hooks", "_backward_pre_hooks"))
    if len(hooks) == 1 and isinstance(hooks[0], WeightNorm) and not others and not parametrize.is_parametrized(module):
        hook = hooks[0]
        if hook.name != "weight":
            return None
        return WeightNormed(type(module), whole_norm(hook.dim), "weight_g", "weight_v", "hook")
    if hooks or others or not parametrize.is_parametrized(module):
        return None
    chains = dict(module.parametrizations.items())
    chain = chains.get("weight")
    if set(chains) != {"weight"} or len(chain) != 1 or not isinstance(chain[0], _WeightNorm):
        return None
    return WeightNormed(plain_class(module), whole_norm(chain[0].dim), "parametrizations.weight.original0",
                        "parametrizations.weight.original1", "parametrization")


def whole_norm(dim: int | None) -> int | None:
    """PyTorch's ``dim``, None for one norm of the whole tensor (``dim=None`` and ``dim=-1`` both mean that)."""
    return None if dim is None or dim == -1 else dim


def plain_class(module: torch.nn.Module) -> type:
    """The class a parametrized module was built as (``Linear`` for ``ParametrizedLinear``)."""
    cls = type(module)
    if parametrize.is_parametrized(module) and cls.__name__.startswith("Parametrized"):
        return cls.__bases__[0]
    return cls


def as_plain_layer(module: torch.nn.Module) -> torch.nn.Module:
    """A view of ``module`` as an instance of its plain class (same attributes, same tensors), for code that
    reads a layer's hyperparameters by its class (a rule's ``weight_layout``)."""
    cls = plain_class(module)
    if cls is type(module):
        return module
    view = cls.__new__(cls)
    view.__dict__.update(module.__dict__)
    return view


@dataclass(frozen=True)
class Parametrization:
    """One parametrized tensor of a torch layer: ``<name> = chain(original)``."""

    name: str  #: the tensor (``weight``)
    original_key: str  #: ``parametrizations.weight.original``, relative to the layer
    chain: tuple[torch.nn.Module, ...]  #: the parametrization modules, applied in order


def parametrizations_of(module: torch.nn.Module) -> list[Parametrization] | None:
    """The parametrizations of a parametrized module, each of one ``original`` tensor (None where one
    has several, a ``right_inverse`` returning a tuple; weight norm is :func:`weight_norm_of`)."""
    if not parametrize.is_parametrized(module):
        return None
    found = []
    for name, chain in module.parametrizations.items():
        if not hasattr(chain, "original"):
            return None
        found.append(Parametrization(name, f"parametrizations.{name}.original", tuple(chain)))
    return found


def copy_module(model: torch.nn.Module) -> torch.nn.Module:
    """``copy.deepcopy(model)``, also of a model with ``torch.nn.utils.weight_norm`` layers: such a layer holds
    its computed ``weight`` as a plain attribute with a graph behind it, which deepcopy refuses (a non-leaf
    tensor); it is copied detached, and the copy's hook recomputes it from g and v before its next call."""
    from torch.nn.utils.weight_norm import WeightNorm

    computed = []
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            tensor = module.__dict__.get(hook.name) if isinstance(hook, WeightNorm) else None
            if isinstance(tensor, torch.Tensor) and not tensor.is_leaf:
                computed.append((module, hook.name, tensor))
    try:
        for module, name, tensor in computed:
            module.__dict__[name] = tensor.detach()
        return copy.deepcopy(model)
    finally:
        for module, name, tensor in computed:
            module.__dict__[name] = tensor
