"""Recover the constructor call of a built ``torch.nn`` layer from the instance itself.

PyTorch layers keep their hyperparameters as attributes named like their constructor's
parameters (``Conv2d.stride``, ``BatchNorm2d.eps``, ``Dropout.p``).  :func:`layer_call`
reads them back through the constructor's signature and then *proves* the call: the layer it
describes is built on the ``meta`` device and must agree with the instance in every plain
attribute, in its parameter and buffer shapes, and in its ``repr``.  A layer whose call cannot be
proved (a composite layer that keeps its arguments only inside its children) raises
:class:`UnrecoverableLayer`, which the caller reports; it is never guessed.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

#: constructor parameters that say where a tensor lives, never what the layer computes
PLACEMENT = {"device", "dtype"}


class UnrecoverableLayer(Exception):
    """The constructor call of a built layer cannot be recovered exactly."""


def is_torch_layer(module: nn.Module) -> bool:
    """A layer defined by PyTorch itself (``torch.nn``), not a subclass written elsewhere."""
    return type(module).__module__.startswith("torch.nn.") and not isinstance(module, CONTAINERS)


CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)


def layer_call(module: nn.Module) -> str:
    """``nn.Conv2d(3, 8, kernel_size=3, ...)``: source that builds a layer equal to ``module``.

    Tuples of equal ints are written as one int where that builds the same layer (as users write them).
    """
    cls = type(module)
    failure = None
    for simplify in (True, False):
        arguments = recovered_arguments(module, simplify)
        text = f"nn.{cls.__name__}({', '.join(f'{k}={python_literal(v)}' for k, v in arguments.items())})"
        try:
            prove_call(module, cls, arguments, text)
            return text
        except UnrecoverableLayer as error:
            failure = failure or error
    raise failure


def recovered_arguments(module: nn.Module, simplify: bool = False) -> dict[str, object]:
    """The constructor's keyword arguments, read from same-named attributes (or, for a composite
    layer, from its children: :data:`COMPOSITE_ARGUMENTS`); defaults left out."""
    cls = type(module)
    arguments: dict[str, object] = {}
    composite = COMPOSITE_ARGUMENTS.get(cls.__name__)
    kept = composite(module) if composite is not None and cls.__module__.startswith("torch.nn.") else {}
    for name, parameter in constructor_parameters(cls):
        if name in kept:
            value = kept[name]
        elif name in vars(module) or name in module._parameters or name in module._buffers:
            value = as_argument(getattr(module, name), parameter.default)
            value = simplest(value) if simplify else value
        if name in kept or name in vars(module) or name in module._parameters or name in module._buffers:
            pass
        elif parameter.default is inspect.Parameter.empty:
            raise UnrecoverableLayer(f"{cls.__name__} keeps no attribute `{name}`, a required constructor argument")
        else:
            continue  # not kept: the proof shows whether the default builds the same layer
        if parameter.default is inspect.Parameter.empty or not same_value(value, parameter.default):
            arguments[name] = value
    return arguments


class Layer:
    """A constructor argument that is itself a layer (``TransformerEncoder``'s ``encoder_layer``)."""

    def __init__(self, module: nn.Module):
        self.module = module

    def __eq__(self, other):
        return False  # never a default


def activation_argument(function):
    """``activation`` as the constructor took it: ``"relu"``/``"gelu"`` for the functions it maps them to."""
    if function is F.relu:
        return "relu"
    if function is F.gelu:
        return "gelu"
    if isinstance(function, nn.Module):
        return Layer(function)
    raise UnrecoverableLayer(f"the activation {function!r} has no source form")


def transformer_layer_arguments(layer: nn.Module) -> dict[str, object]:
    arguments = {
        "d_model": layer.self_attn.embed_dim, "nhead": layer.self_attn.num_heads,
        "dim_feedforward": layer.linear1.out_features, "dropout": layer.dropout.p,
        "layer_norm_eps": layer.norm1.eps, "batch_first": layer.self_attn.batch_first,
        "bias": layer.linear1.bias is not None,
    }
    if layer.activation is not F.relu:  # the default
        arguments["activation"] = activation_argument(layer.activation)
    return arguments


#: composite torch layers keep their constructor arguments inside their children: how to read them back
#: (the proof in :func:`prove_call` still decides whether the call builds the same layer)
COMPOSITE_ARGUMENTS = {
    "TransformerEncoderLayer": transformer_layer_arguments,
    "TransformerDecoderLayer": transformer_layer_arguments,
    "TransformerEncoder": lambda e: {"encoder_layer": Layer(e.layers[0]), "num_layers": len(e.layers),
                                     "norm": Layer(e.norm) if e.norm is not None else None},
    "TransformerDecoder": lambda d: {"decoder_layer": Layer(d.layers[0]), "num_layers": len(d.layers),
                                     "norm": Layer(d.norm) if d.norm is not None else None},
}


#: layers whose ``__init__`` takes ``*args``: the base whose signature they forward to, less what they fix
FORWARDED_SIGNATURES = {"LSTM": ("mode",), "GRU": ("mode",), "RNN": ("mode",)}


def constructor_parameters(cls: type) -> list[tuple[str, inspect.Parameter]]:
    """The named parameters of ``cls``'s constructor that say what the layer computes."""
    owner = cls
    dropped: tuple[str, ...] = ()
    if cls.__name__ in FORWARDED_SIGNATURES:
        owner, dropped = cls.__mro__[1], FORWARDED_SIGNATURES[cls.__name__]
    parameters = list(inspect.signature(owner.__init__).parameters.items())[1:]
    named = [
        (name, p) for name, p in parameters
        if name not in PLACEMENT and name not in dropped and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if cls.__name__ == "RNN":
        named.append(("nonlinearity", inspect.Parameter("nonlinearity", inspect.Parameter.KEYWORD_ONLY, default="tanh")))
    return named


def simplest(value):
    """``3`` for ``(3, 3)``."""
    if isinstance(value, tuple) and value and all(type(v) is int and v == value[0] for v in value):
        return value[0]
    return value


def as_argument(value, default):
    """An attribute as the constructor argument it came from (``bias=True`` from a ``bias`` tensor)."""
    if isinstance(default, bool) and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    return value


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def prove_call(module: nn.Module, cls: type, arguments: dict, text: str) -> None:
    """Build ``cls(**arguments)`` on meta and compare it with ``module``; raise if anything differs."""
    try:
        with torch.device("meta"):
            candidate = cls(**{k: v.module if isinstance(v, Layer) else v for k, v in arguments.items()})
    except Exception as error:
        raise UnrecoverableLayer(f"{text} does not build: {type(error).__name__}: {error}") from None
    differences = [
        name for name, value in vars(module).items()
        if not name.startswith("_") and name != "training" and is_plain(value)
        and not same_value(value, vars(candidate).get(name, object()))
    ]
    differences += [
        name for name, tensor in list(module.named_parameters()) + list(module.named_buffers())
        if tuple(dict(list(candidate.named_parameters()) + list(candidate.named_buffers())).get(name, torch.empty(0)).shape)
        != tuple(tensor.shape)
    ]
    trainable = {name: p.requires_grad for name, p in module.named_parameters()}
    if trainable != {name: p.requires_grad for name, p in candidate.named_parameters()}:
        differences.append("parameter names or which are trained")
    if repr(candidate) != repr(module):
        differences.append("repr")
    for name, value in vars(module).items():  # an activation function kept as an attribute (F.gelu)
        if callable(value) and not isinstance(value, nn.Module) and not name.startswith("_") \
                and vars(candidate).get(name) is not value:
            differences.append(name)
    if differences:
        raise UnrecoverableLayer(
            f"the built {cls.__name__} differs from {text} in {', '.join(dict.fromkeys(differences))}"
        )


def is_plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str)) or (
        isinstance(value, tuple) and all(is_plain(v) for v in value)
    )


def python_literal(value) -> str:
    """Source for a plain value (``float('inf')`` and ``nan`` included), or a layer's proved call."""
    if isinstance(value, Layer):
        return layer_call(value.module)
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, tuple):
        inner = ", ".join(python_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return f"[{', '.join(python_literal(v) for v in value)}]"
    if is_plain(value):
        return repr(value)
    raise UnrecoverableLayer(f"the argument value {value!r} ({type(value).__name__}) has no source form")
