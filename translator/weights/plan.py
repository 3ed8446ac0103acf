"""The port plan: which Flax variable each PyTorch tensor becomes, and by which named transform.

The plan is derived from the PyTorch model's module tree: every layer is looked
up in the rule catalogue by its class (the same rule that translated its
constructor), and the rule states its tensors' layouts.  Nothing is guessed from
key suffixes or tensor ranks.  User modules map attribute names to Flax
submodule names one to one, as the ``setup()`` translation keeps them.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from translator.diagnostics import PortError
from translator.rules.registry import rule_for_object
from translator.weights.layouts import IDENTITY, LayoutTransform
from translator.weights.parametrized import parametrizations_of, plain_class, weight_norm_of

Variables = dict[str, dict]  # {"params": {...nested...}, "batch_stats": {...}}


@dataclass(frozen=True)
class PlannedTensor:
    """One PyTorch tensor and the Flax variable it becomes."""

    torch_key: str  # "features.0.weight"
    flax_path: tuple[str, ...]  # ("params", "features_0", "kernel")
    transform: LayoutTransform
    torch_shape: tuple[int, ...]
    rule: str  # code of the rule that owns the layout

    @property
    def flax_key(self) -> str:
        return "/".join(self.flax_path)

    @property
    def flax_shape(self) -> tuple[int, ...]:
        return self.transform.flax_shape(self.torch_shape)


@dataclass(frozen=True)
class PortPlan:
    """All tensors of a model, in state-dict order, plus keys dropped on purpose (with why)."""

    tensors: tuple[PlannedTensor, ...]
    dropped: tuple[tuple[str, str], ...] = ()
    #: (dropped key, key of the tensor it is tied to): one PyTorch Parameter under two names
    tied: tuple[tuple[str, str], ...] = ()
    #: (key, value) of the persistent buffers the translation computes (rule S009 constants): not stored,
    #: the checkpoint's value is checked against the model's own (None: built on ``meta``, not checked)
    constants: tuple[tuple[str, np.ndarray | None], ...] = field(default=(), compare=False)

    def by_torch_key(self) -> dict[str, PlannedTensor]:
        return {t.torch_key: t for t in self.tensors}

    def by_flax_key(self) -> dict[str, PlannedTensor]:
        return {t.flax_key: t for t in self.tensors}

    def validate(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        """Raise :class:`PortError` listing every missing, unexpected and wrongly shaped key."""
        expected = self.by_torch_key()
        dropped = {key for key, _ in self.dropped}
        missing = [k for k in expected if self.stored_key(k, shapes) is None]
        unexpected = [k for k in shapes if k not in expected and k not in dropped]
        wrong = [
            f"{k}: checkpoint {tuple(shapes[k])}, model {expected[k].torch_shape} (-> {expected[k].flax_key})"
            for k in expected
            if self.stored_key(k, shapes) is not None and tuple(shapes[self.stored_key(k, shapes)]) != expected[k].torch_shape
        ]
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(f"{k} (-> {expected[k].flax_key})" for k in missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if wrong:
            problems.append("wrong shapes: " + "; ".join(wrong))
        if problems:
            raise PortError("the checkpoint does not fit the model:\n  " + "\n  ".join(problems))

    def to_flax(
        self,
        state: Mapping[str, np.ndarray],
        convert: Callable[[np.ndarray], np.ndarray] | None = None,
        on_tensor: Callable[[PlannedTensor], None] | None = None,
    ) -> Variables:
        """Flax variables from a PyTorch state dict (validated first), converted one tensor at a time.

        ``state`` is a mapping or a lazy :class:`~translator.weights.checkpoint.TensorSource`
        (anything with ``get(key)``; ``shapes()`` when reading a tensor just for its shape would
        be costly).  ``convert`` is applied to each tensor as read (a dtype cast);
        ``on_tensor`` is called after each (a progress bar).
        """
        shapes = state.shapes() if hasattr(state, "shapes") else {k: tuple(np.shape(v)) for k, v in state.items()}
        self.validate(shapes)
        self.check_tied(state, shapes)
        self.check_constants(state, shapes)
        variables: Variables = {}
        for tensor in self.tensors:
            array = np.asarray(state.get(self.stored_key(tensor.torch_key, shapes)))
            if convert is not None:
                array = convert(array)
            set_path(variables, tensor.flax_path, tensor.transform.to_flax(array))
            if on_tensor is not None:
                on_tensor(tensor)
        return variables

    def stored_key(self, key: str, shapes: Mapping[str, tuple[int, ...]]) -> str | None:
        """Where the checkpoint stores ``key``: itself, or a name tied to it (safetensors keeps one name
        of a shared tensor, not necessarily the one the plan reads)."""
        if key in shapes:
            return key
        return next((alias for alias, owner in self.tied if owner == key and alias in shapes), None)

    def check_tied(self, state: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> None:
        """A checkpoint that stores both names of a tied tensor must hold the same values under both."""
        differing = [
            f"{key} differs from {owner}"
            for key, owner in self.tied
            if key in shapes and owner in shapes and not np.array_equal(np.asarray(state.get(key)), np.asarray(state.get(owner)))
        ]
        if differing:
            raise PortError(
                "the model ties these weights (one tensor under two names) but the checkpoint holds different "
                "values: " + "; ".join(differing)
            )

    def check_constants(self, state: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> None:
        """The checkpoint's value of each constant buffer must be the one the translation computes (the
        model's own, up to rounding): one the user changed would be silently replaced."""
        differing = []
        for key, expected in self.constants:
            if expected is None or key not in shapes:
                continue
            value = np.asarray(state.get(key))
            if value.shape != expected.shape:
                differing.append(f"{key} (shape {value.shape}, the translation's {expected.shape})")
                continue
            floating = np.issubdtype(value.dtype, np.floating) or np.issubdtype(expected.dtype, np.floating)
            if floating and np.allclose(value, expected, rtol=CONSTANT_RTOL, atol=CONSTANT_ATOL):
                continue
            if not floating and np.array_equal(value, expected):  # a boolean or integer mask: exactly
                continue
            worst = float(np.max(np.abs(value.astype(np.float64) - expected.astype(np.float64)), initial=0.0))
            differing.append(f"{key} (differs by up to {worst:.3g})")
        if differing:
            raise PortError(
                "the translation computes these buffers from the constructor's arguments (rule S009: a constant "
                "in setup), but the checkpoint holds other values, so they were changed after construction: "
                + "; ".join(differing) + ". Make them variables: write `self.<name> = self.variable(\"buffers\", "
                "\"<name>\", lambda: <value>).value` in the translation's setup, or drop the change.")

    def to_torch(
        self,
        variables: Mapping,
        convert: Callable[[np.ndarray], np.ndarray] | None = None,
        on_tensor: Callable[[PlannedTensor], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """A PyTorch state dict (numpy arrays) from Flax variables; the inverse of :meth:`to_flax`.

        Keys the plan dropped (``self.dropped``) are not in the result: the caller restores them.
        """
        flat = flatten_variables(variables)
        expected = self.by_flax_key()
        missing = [k for k in expected if k not in flat]
        unexpected = [k for k in flat if k not in expected]
        wrong = [
            f"{k}: {tuple(flat[k].shape)} vs {t.flax_shape}" for k, t in expected.items() if k in flat and tuple(flat[k].shape) != t.flax_shape
        ]
        if missing or unexpected or wrong:
            parts = []
            if missing:
                parts.append("missing variables: " + ", ".join(f"{k} (<- {expected[k].torch_key})" for k in missing))
            if unexpected:
                parts.append("unexpected variables: " + ", ".join(unexpected))
            if wrong:
                parts.append("wrong shapes: " + "; ".join(wrong))
            raise PortError("the Flax variables do not fit the model:\n  " + "\n  ".join(parts))
        state = {}
        for t in self.tensors:
            array = np.asarray(flat[t.flax_key])
            if convert is not None:
                array = convert(array)
            state[t.torch_key] = t.transform.to_torch(array)
            if on_tensor is not None:
                on_tensor(t)
        return state


def set_path(tree: dict, path: Iterable[str], value) -> None:
    *parents, leaf = path
    for name in parents:
        tree = tree.setdefault(name, {})
    tree[leaf] = value


def flatten_variables(variables: Mapping, prefix: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """``{"params": {"fc": {"kernel": a}}}`` -> ``{"params/fc/kernel": a}``."""
    flat: dict[str, np.ndarray] = {}
    for name, value in variables.items():
        path = (*prefix, str(name))
        if isinstance(value, Mapping):
            flat.update(flatten_variables(value, path))
        else:
            flat["/".join(path)] = value
    return flat


def unflatten_variables(flat: Mapping[str, np.ndarray]) -> Variables:
    variables: Variables = {}
    for key, value in flat.items():
        set_path(variables, key.split("/"), value)
    return variables


class UnportableModule(PortError):
    pass


#: how far a checkpoint's constant buffer may be from the model's own value: rounding of the same
#: formula elsewhere (a sinusoidal table computed on another device), never a changed mask
CONSTANT_RTOL, CONSTANT_ATOL = 1e-6, 1e-6


def plan_port(model: torch.nn.Module, built: bool = False,
              constant_buffers: Mapping[str, Iterable[str]] | None = None) -> PortPlan:
    """The port plan of a PyTorch model (a real or ``meta``-device instance).

    ``built``: the translation was made from the built model (``translator.instance``), whose classes
    take no constructor argument named like an attribute, so no attribute is renamed ``name_``.
    ``constant_buffers``: class name -> persistent buffers the translation computes in setup
    (:attr:`Translation.constant_buffers`): dropped from the variables, their checkpoint values checked."""
    tensors: list[PlannedTensor] = []
    dropped: list[tuple[str, str]] = []
    shared: dict[int, tuple] = {}
    walk(model, "", (), tensors, dropped, built, shared)
    tied = share_modules(shared, tensors, dropped)
    tied += tie_shared_parameters(model, tensors, dropped, built, {key for key, _ in tied})
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    covered = {t.torch_key for t in tensors} | {key for key, _ in dropped}
    uncovered = [k for k in expected if k not in covered]
    if uncovered:
        raise UnportableModule("no rule ports these tensors: " + ", ".join(uncovered))
    order = {k: i for i, k in enumerate(expected)}
    tensors.sort(key=lambda t: order[t.torch_key])
    constants = constant_buffer_values(model, constant_buffers or {})
    if constants:
        tensors = [t for t in tensors if t.torch_key not in constants]
        already = {key for key, _ in dropped}
        dropped += [(key, "a constant the translation computes in setup (S009); its value is checked")
                    for key in constants if key not in already]
    return PortPlan(tuple(tensors), tuple(dropped), tuple(tied), tuple(constants.items()))


def constant_buffer_values(model: torch.nn.Module, constant_buffers: Mapping[str, Iterable[str]]) -> dict[str, np.ndarray | None]:
    """State-dict key -> value (None on ``meta``) of each persistent buffer named in ``constant_buffers``."""
    found: dict[str, np.ndarray | None] = {}
    if not constant_buffers:
        return found
    for prefix, module in model.named_modules(remove_duplicate=False):
        for name in constant_buffers.get(type(module).__name__, ()):
            buffer = module._buffers.get(name)
            if buffer is None or name in module._non_persistent_buffers_set:
                continue
            key = f"{prefix}.{name}" if prefix else name
            found[key] = None if buffer.is_meta else buffer.detach().cpu().numpy()
    return found


#: the rule whose layer keeps a tied weight (nn.Embedding: the head reads its table with ``attend``)
TIED_OWNER_RULE = "L031"


def share_modules(shared: dict[int, tuple], tensors: list[PlannedTensor],
                  dropped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One module under several names (``self.net = nn.Sequential(self.conv1, ...)``, the TCN's block): in Flax it
    is one submodule, named by the attribute that holds it first (as PyTorch registers it first), so its
    tensors exist once.  Each other name of each of its tensors is dropped and tied to the first (a checkpoint
    holding both must hold equal values; export writes both).  ``shared``: id -> (the module, its first
    prefix, its other prefixes), as :func:`walk` met them."""
    planned = {t.torch_key for t in tensors}
    why = dict(dropped)
    tied = []
    for module, owner, aliases in shared.values():
        keys = list(module.state_dict()) if aliases else []
        for alias in aliases:
            for key in keys:
                if owner + key in planned:
                    dropped.append((alias + key, f"the same tensor as {owner + key}: one module under two names"))
                    tied.append((alias + key, owner + key))
                elif owner + key in why:  # dropped under its first name too (num_batches_tracked)
                    dropped.append((alias + key, why[owner + key]))
    return tied


def tie_shared_parameters(model: torch.nn.Module, tensors: list[PlannedTensor], dropped: list[tuple[str, str]],
                          built: bool = False, shared: set[str] = frozenset()) -> list[tuple[str, str]]:
    """One Parameter under several names (``head.weight = embed.weight``): the Embedding's name keeps it.

    The translation (rule S013) reads the table through ``nn.Embed.attend`` and builds no
    Flax layer for the tied Linear, so the other names are dropped from the plan.  A translation of
    the built model (``built``) does not express tying: any tie is refused (a head with a table of
    its own would train apart from the embedding).
    """
    names: dict[int, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    by_key = {t.torch_key: t for t in tensors}
    tied = []
    for group in names.values():
        group = [name for name in group if name not in shared]  # another name of a shared module's tensor
        if len(group) < 2:
            continue
        if built:
            raise UnportableModule(
                f"the parameters {', '.join(group)} are one tensor (weight tying); the translation of the built "
                "model does not express tying yet (S013 ties an Embedding to a Linear head written in the source)"
            )
        owners = [k for k in group if k in by_key and by_key[k].rule == TIED_OWNER_RULE]
        if len(owners) != 1:
            raise UnportableModule(
                f"the parameters {', '.join(group)} are one tensor (weight tying); the translator ties an "
                "Embedding's weight to a Linear head only"
            )
        for key in group:
            if key == owners[0]:
                continue
            if key in by_key:
                tensors.remove(by_key[key])
            dropped.append((key, f"tied to {owners[0]} (rule S013)"))
            tied.append((key, owners[0]))
    return tied


def container_class(module: torch.nn.Module) -> type | None:
    """``nn.Sequential``/``ModuleList``/``ModuleDict`` for a subclass that keeps its container's ``forward``
    (a library's ``class ConvAct(nn.Sequential)`` filled by ``add_module``): it is ported, and translated
    from the built model, as that container; None otherwise."""
    for base in (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict):
        if isinstance(module, base) and type(module).forward is base.forward:
            return base
    return None


def walk(
    module: torch.nn.Module,
    torch_prefix: str,
    flax_prefix: tuple[str, ...],
    out: list[PlannedTensor],
    dropped: list[tuple[str, str]],
    built: bool = False,
    shared: dict[int, tuple] | None = None,
) -> None:
    if shared is not None:  # a module met before is the same Flax submodule: see share_modules
        if id(module) in shared:
            shared[id(module)][2].append(torch_prefix)
            return
        shared[id(module)] = (module, torch_prefix, [])
    # (the model itself is a module with attributes even when it subclasses a container)
    rule = rule_for_object((container_class(module) if flax_prefix else None) or type(module))
    if rule is not None and hasattr(rule, "child_path"):  # a container: its children, Flax-named
        for name, child in children(module):
            walk(child, f"{torch_prefix}{name}.", rule.child_path(flax_prefix, name), out, dropped, built, shared)
        return
    normed = weight_norm_of(module)
    layer_rule = rule_for_object(normed.layer_class) if normed is not None else None
    if normed is not None and layer_rule is not None and layer_rule.torch_classes:
        from translator.rules.layers.weight_norm import TorchWeightNorm, weight_norm_layout

        rule, mappings = TorchWeightNorm(), weight_norm_layout(layer_rule, module, normed)  # rule L060
    elif built and parametrizations_of(module) is not None and rule_for_object(plain_class(module)) is not None:
        walk_parametrized(module, torch_prefix, flax_prefix, out, dropped)
        return
    elif rule is not None and rule.torch_classes:
        mappings = rule.weight_layout(module)
    else:
        mappings = None
    if mappings is not None:
        for mapping in mappings:
            if not mapping.flax_path:  # dropped on purpose; the rule says why
                dropped.append((torch_prefix + mapping.torch_name, mapping.extra.get("reason", f"not used by {rule.code}")))
                continue
            tensor = module.get_parameter(mapping.torch_name) if _is_parameter(module, mapping.torch_name) else module.get_buffer(mapping.torch_name)
            collection, *names = mapping.flax_path
            out.append(
                PlannedTensor(
                    torch_prefix + mapping.torch_name,
                    (collection, *flax_prefix, *names),
                    mapping.transform,
                    tuple(tensor.shape),
                    rule.code,
                )
            )
        return
    if isinstance(module, (torch.nn.ParameterList, torch.nn.ParameterDict)) and flax_prefix:
        # a list/dict of self.param(...) in setup: `<attr>.<key>` is the owner's parameter `<attr>_<key>` (S008)
        *owner, attribute = flax_prefix
        for name, parameter in module.named_parameters(recurse=False):
            out.append(PlannedTensor(torch_prefix + name, ("params", *owner, f"{attribute}_{name}"), IDENTITY,
                                     tuple(parameter.shape), "S008"))
        return
    if type(module).__module__.startswith("torch."):
        raise UnportableModule(
            f"no rule ports the layer `{type(module).__name__}` at `{torch_prefix.rstrip('.') or '<root>'}`"
        )
    # A user module: its own parameters keep their names; submodules keep their attribute names.
    for name, parameter in module.named_parameters(recurse=False):
        out.append(PlannedTensor(torch_prefix + name, ("params", *flax_prefix, name), IDENTITY, tuple(parameter.shape), "S008"))
    for name, buffer in module.named_buffers(recurse=False):
        if name in module._non_persistent_buffers_set:
            continue  # not in the state dict: the translation recomputes it in setup
        out.append(PlannedTensor(torch_prefix + name, ("buffers", *flax_prefix, name), IDENTITY, tuple(buffer.shape), "S009"))
    for name, child in children(module):
        flax_name = name if built else flax_attribute_name(type(module), name)
        walk(child, f"{torch_prefix}{name}.", (*flax_prefix, flax_name), out, dropped, built, shared)


def children(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``module``'s submodules by name, each name of one held twice included (``named_children`` gives the
    first only): the state dict holds its tensors under each."""
    return [(name, child) for name, child in module._modules.items() if child is not None]


def walk_parametrized(module: torch.nn.Module, torch_prefix: str, flax_prefix: tuple[str, ...],
                      out: list[PlannedTensor], dropped: list[tuple[str, str]]) -> None:
    """A torch layer with parametrizations (``register_parametrization(linear, "weight", L2Norm())``), as the
    built-model translation writes it: a module with its plain tensors (``bias``), ``<name>_original`` for each
    parametrized tensor and ``<name>_parametrizations``, the list of parametrization modules it applies to it
    (``weight = chain(weight_original)``, then the layer's functional form): see
    :mod:`translator.instance.regenerate`."""
    for name, parameter in module.named_parameters(recurse=False):
        out.append(PlannedTensor(torch_prefix + name, ("params", *flax_prefix, name), IDENTITY, tuple(parameter.shape), "S008"))
    for name, buffer in module.named_buffers(recurse=False):
        if name not in module._non_persistent_buffers_set:
            out.append(PlannedTensor(torch_prefix + name, ("buffers", *flax_prefix, name), IDENTITY, tuple(buffer.shape), "S009"))
    for parametrization in parametrizations_of(module):
        original = module.get_parameter(parametrization.original_key)
        out.append(PlannedTensor(torch_prefix + parametrization.original_key, ("params", *flax_prefix, f"{parametrization.name}_original"),
                                 IDENTITY, tuple(original.shape), "S008"))
        for index, step in enumerate(parametrization.chain):
            walk(step, f"{torch_prefix}parametrizations.{parametrization.name}.{index}.",
                 (*flax_prefix, f"{parametrization.name}_parametrizations_{index}"), out, dropped, True)


def flax_attribute_name(module_class: type, attribute: str) -> str:
    """The Flax name of a user module's attribute: ``name_`` when a constructor parameter has its name
    and ``__init__`` assigns it something else than the parameter itself.

    (A Flax module's constructor arguments and attributes share one namespace; the
    translation renames the attribute, see ``translator.naming.colliding_attributes``,
    which decides it here too. ``self.fn = fn``, a module passed in, keeps its name: rule S016.)
    """
    renamed = renamed_attributes(module_class)
    return attribute + "_" if attribute in renamed else attribute


@functools.cache
def renamed_attributes(module_class: type) -> frozenset[str]:
    import inspect

    import libcst as cst

    from translator.naming import colliding_attributes

    try:
        parameters = [p for p in inspect.signature(module_class.__init__).parameters if p != "self"]
    except (TypeError, ValueError):
        return frozenset()
    try:
        source = textwrap.dedent(inspect.getsource(module_class.__init__))
        init = cst.parse_module(source).body[0]
    except (OSError, TypeError, cst.ParserSyntaxError, IndexError):
        return frozenset(parameters)  # no source: every colliding name is taken as renamed
    if not isinstance(init, cst.FunctionDef):
        return frozenset(parameters)
    return frozenset(colliding_attributes(init, parameters))


def _is_parameter(module: torch.nn.Module, dotted: str) -> bool:
    try:
        module.get_parameter(dotted)
        return True
    except AttributeError:
        return False
