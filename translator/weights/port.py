"""Port a checkpoint both ways: build the PyTorch model's structure, plan, read, transform, write.

``port_checkpoint``: PyTorch state dict -> Flax variables.  ``export_checkpoint``: Flax
variables -> PyTorch state dict, ready for ``model.load_state_dict(..., strict=True)``.
Both plan from the model built on the ``meta`` device (no memory for its weights), read
tensors lazily and convert them one at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from translator.loading import class_from, import_for_class, instantiate
from translator.weights.checkpoint import (
    TensorSource,
    cast,
    load_variables,
    open_checkpoint,
    parse_dtype,
    refuse_overwrite,
    save_state_dict,
    save_variables,
    tensor_to_numpy,
    torch_format,
    variables_format,
)
from translator.weights.plan import PlannedTensor, PortPlan, Variables, plan_port

#: called once per converted tensor (a progress bar); the port's plan is passed first via ``start``
Progress = Callable[[PlannedTensor], None]


def build_structure(source: str | os.PathLike, class_name: str, kwargs: dict, meta: bool = True) -> torch.nn.Module:
    """The PyTorch model, on the ``meta`` device (no memory for weights) when its code allows and ``meta``.

    Only the top-level statements of ``source`` that the class needs run (see ``import_for_class``)."""
    cls = class_from(import_for_class(source, {class_name}), class_name, str(source))
    if meta:
        try:
            with torch.device("meta"):
                return instantiate(cls, kwargs, str(source))
        except Exception:
            pass
    return instantiate(cls, kwargs, str(source))


def source_constant_buffers(source: str | os.PathLike, class_name: str) -> dict[str, frozenset[str]]:
    """The persistent buffers the source translation computes in setup (rule S009), by class: the port
    checks their checkpoint values against the model's own, so the model is then built for real."""
    from translator.diagnostics import NoModelClass
    from translator.instance.translate import source_translation

    try:
        return source_translation(Path(source).read_text(), str(source), False).constant_buffers
    except (NoModelClass, UnicodeDecodeError, OSError):
        return {}


def structure_for_translation(source, class_name: str, kwargs: dict, build: str | None = None):
    """The model to plan from, the constants the translation holds besides the state dict, whether the
    translation is of the built model, and the persistent buffers it computes (``plan_port``'s ``constant_buffers``).

    When the source translates as written: the model on ``meta`` (built for real when the translation
    computes buffers: the port checks their values) and no constants.  When the translation comes
    from the built model: that model, built for real, and its constants."""
    from translator.instance.translate import promote_constants, translate_model

    chosen = translate_model(source, class_name, kwargs=kwargs, build=build, notes=False)
    if chosen.built is None:
        constant_buffers = chosen.translation.constant_buffers
        return build_structure(source, class_name, kwargs, meta=not constant_buffers), {}, False, constant_buffers
    constants = chosen.built.regenerated.constants
    promote_constants(chosen.model, constants)
    return chosen.model, constants, True, {}


def with_constants(tensors: TensorSource, constants: dict[str, np.ndarray]) -> TensorSource:
    """The checkpoint's tensors, and the built model's constants under their state-dict keys."""
    if not constants:
        return tensors
    shapes = {**tensors.shapes(), **{k: tuple(v.shape) for k, v in constants.items()}}
    return TensorSource(tensors.path, shapes, lambda k: constants[k] if k in constants else tensors.get(k),
                        list(tensors.notes) + [f"{len(constants)} constant(s) computed in __init__ ported from the built model"])


@dataclass(frozen=True)
class PortResult:
    plan: PortPlan
    variables: Variables
    output: Path | None
    notes: tuple[str, ...] = field(default=())

    @property
    def parameter_count(self) -> int:
        return sum(int(np.prod(t.torch_shape)) for t in self.plan.tensors)


@dataclass(frozen=True)
class ExportResult:
    plan: PortPlan
    state_dict: dict[str, np.ndarray]  # in the model's state-dict order, dropped tensors restored
    output: Path | None
    notes: tuple[str, ...] = field(default=())

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
    *,
    key: str | None = None,
    strip_prefix: str | None = None,
    dtype: str | None = None,
    progress: Callable[[PortPlan], Progress | None] | None = None,
    build: str | None = None,
) -> PortResult:
    """Read ``weights``, port them to the translation of ``class_name``, write ``output`` if given.

    ``output``: ``.msgpack``, ``.safetensors``, or an Orbax directory (no suffix, or a trailing
    ``/``).  ``key``/``strip_prefix`` pick the state dict inside a wrapping checkpoint and
    remove a key prefix (both recognised automatically otherwise; see ``result.notes``).
    ``dtype`` (``float32``, ``float16``, ``bfloat16``) casts floating tensors; by default each
    keeps its own.  ``progress(plan)`` may return a per-tensor callback.  ``build`` builds the model
    from a Python expression (as ``check --build``).  When the translation comes from the built
    model (``translator.instance``), its constants (tensors ``__init__`` computed that the state
    dict does not hold) are ported from the built model.
    """
    target = None
    if output is not None:
        variables_format(output)
        target = Path(output)
        refuse_overwrite(target, force)
    dtype_target = parse_dtype(dtype)
    model, constants, built, constant_buffers = structure_for_translation(source, class_name, kwargs or {}, build)
    plan = plan_port(model, built, constant_buffers=constant_buffers)
    expected = [t.torch_key for t in plan.tensors if t.torch_key not in constants]
    tensors = with_constants(open_checkpoint(weights, key, strip_prefix, expected=expected), constants)
    on_tensor = progress(plan) if progress is not None else None
    variables = plan.to_flax(tensors, convert=lambda a: cast(a, dtype_target), on_tensor=on_tensor)
    if output is not None:
        save_variables(variables, output, force=force)
    return PortResult(plan, variables, target, tuple(tensors.notes))


def export_checkpoint(
    source: str | os.PathLike,
    class_name: str,
    weights: str | os.PathLike,
    output: str | os.PathLike | None = None,
    kwargs: dict | None = None,
    force: bool = False,
    *,
    dtype: str | None = None,
    progress: Callable[[PortPlan], Progress | None] | None = None,
) -> ExportResult:
    """Flax variables (``.msgpack``, ``.safetensors`` or an Orbax directory) -> a PyTorch state dict.

    Writes ``output`` (``.pt``/``.pth``/``.bin`` via ``torch.save``, or ``.safetensors``) if
    given.  Tensors the port drops on purpose (BatchNorm's ``num_batches_tracked``) are
    restored with the model's defaults, so ``load_state_dict(strict=True)`` accepts the result.
    """
    target = None
    if output is not None:
        torch_format(output)
        target = Path(output)
        refuse_overwrite(target, force)
    dtype_target = parse_dtype(dtype)
    constant_buffers = source_constant_buffers(source, class_name)
    model = build_structure(source, class_name, kwargs or {}, meta=not constant_buffers)
    plan = plan_port(model, constant_buffers=constant_buffers)
    variables = load_variables(weights)
    on_tensor = progress(plan) if progress is not None else None
    converted = plan.to_torch(variables, convert=lambda a: cast(a, dtype_target), on_tensor=on_tensor)
    defaults = model.state_dict()
    notes = []
    restored = []
    tied, computed = dict(plan.tied), dict(plan.constants)
    for torch_key, reason in plan.dropped:
        if torch_key in tied:  # one tensor under two names: both get the ported value
            converted[torch_key] = converted[tied[torch_key]]
            continue
        converted[torch_key] = default_tensor(defaults[torch_key])
        if torch_key not in computed:  # a constant: the value the translation computes, nothing lost
            restored.append(f"{torch_key} ({reason})")
    if restored:
        notes.append(
            f"restored {len(restored)} tensor(s) the port drops, with the model's initial values "
            f"(zeros when it was built on the meta device): {', '.join(restored)}"
        )
    order = {k: i for i, k in enumerate(defaults)}
    state = dict(sorted(converted.items(), key=lambda item: order.get(item[0], len(order))))
    if output is not None:
        save_state_dict(state, output, force=force)
    return ExportResult(plan, state, target, tuple(notes))


def default_tensor(tensor: torch.Tensor) -> np.ndarray:
    """A dropped tensor's value for export: its initial value, or zeros of its dtype when the model
    was built on the meta device (which holds no values).  The tensors the rules drop are BatchNorm's
    ``num_batches_tracked`` (initially 0) and the constant buffers of rule S009 (the model is then built
    for real, so the value is the one the translation computes)."""
    if tensor.is_meta:
        return tensor_to_numpy(torch.zeros(tensor.shape, dtype=tensor.dtype))
    return tensor_to_numpy(tensor.clone())

