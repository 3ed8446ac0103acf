"""Write the built model back as plain PyTorch source that says what it builds.

Real model code builds layers through factories, name lookups, config objects and loops; the
built instance holds the answer.  :func:`regenerate` walks it and writes one class per distinct
user module (a variant of a class, a shortcut that is a conv in one block and absent in another,
becomes ``Block_2``): ``__init__`` builds exactly the submodules, parameters and buffers the
instance holds (``torch.nn`` layers by their proved constructor call, see
:mod:`~translator.instance.constructors`), and ``forward`` is the method traced on the instance
(:mod:`~translator.instance.trace`).  The rule catalogue then translates that source as usual,
so every op still cites its rule.

Tensors the constructor computed that the state dict does not hold (a non-persistent buffer, a
positional table kept as a plain attribute, a constant the trace captured) are registered as
buffers whose values, in :attr:`Regenerated.constants`, come from the built model: the
translation holds them as state, never recomputes them by mutating a JAX array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from translator.instance.constructors import (
    UnrecoverableLayer,
    is_torch_layer,
    layer_call,
    python_literal,
)
from translator.instance.trace import (
    Call,
    TracedMethod,
    TraceFailed,
    record_calls,
    source_line,
    trace_forward,
)
from translator.instance.variants import TOKEN, Instance, write_classes
from translator.weights.parametrized import parametrizations_of, plain_class, weight_norm_of
from translator.weights.plan import container_class


@dataclass
class Problem:
    """Something of the built model the regenerated source cannot express; ``path`` names the module."""

    path: str
    message: str
    location: tuple[str, int] | None = None


@dataclass
class Regenerated:
    """The built model as source, and what the translation needs besides."""

    source: str
    root: str  #: the class name of the model
    constants: dict[str, np.ndarray] = field(default_factory=dict)  #: state-dict key -> value from the built model
    traced: list[str] = field(default_factory=list)  #: ``Class.forward`` of every traced method
    fixed: dict[str, dict[str, object]] = field(default_factory=dict)  #: ``Class.forward`` -> arguments fixed
    #: ``Class.forward`` -> decisions on metadata taken at trace time (see :mod:`~translator.instance.trace`)
    decisions: dict[str, list[str]] = field(default_factory=dict)
    #: ``Class.forward`` of submodules the example run never called, whose trace needed a call: they raise
    not_run: list[str] = field(default_factory=list)
    by_mode: list[str] = field(default_factory=list)  #: traced methods whose program depends on train/eval
    problems: list[Problem] = field(default_factory=list)
    origins: dict[int, tuple[str, int]] = field(default_factory=dict)  #: source line -> user's (file, line)
    rerolled: list[str] = field(default_factory=list)  #: traced methods whose unrolled loops were written back


def regenerate(model: nn.Module, inputs: int | None = None, examples: tuple | None = None,
               reroll: bool = True) -> Regenerated:
    """The regenerated source of ``model`` (a built ``nn.Module``), with its constants and problems.

    Tensors kept as plain attributes become non-persistent buffers of ``model`` first (same value,
    same forward, same state dict), so the trace reads them as the module's state, not as constants
    it cannot index with a traced size.  ``inputs``: how many positional tensors the model is called
    with (its ``forward`` keeps them even where they have a default, ``emb=None``).  ``examples``: tensors
    to run the model on once, so that traced decisions on ranks and dtypes read real values.  ``reroll``:
    traced loops over containers are written back as loops (:mod:`~translator.instance.loops`)."""
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if name == "weight" and weight_norm_of(module) is not None:
                continue  # the weight torch.nn.utils.weight_norm's hook computes before each call (rule L060)
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and not name.startswith("_"):
                delattr(module, name)
                module.register_buffer(name, value, persistent=False)
    writer = _Writer(model, reroll)
    if examples is not None:
        writer.examples = record_calls(model, examples)
    if inputs is not None:
        writer.calls[""] = [Call(inputs, frozenset())]
    return writer.write()


class _Writer:
    def __init__(self, model: nn.Module, reroll: bool = True):
        self.model = model
        self.reroll = reroll
        self.paths = {id(module): path for path, module in model.named_modules(remove_duplicate=False)}
        self.calls: dict[str, list[Call]] = {}
        self.examples: dict[int, tuple[tuple, dict]] = {}
        self.imports: set[str] = set()  #: import lines the regenerated source needs besides torch
        self.instances: list[Instance] = []
        self.result = Regenerated("", type(model).__name__)
        self.inspected: set[int] = set()
        #: the modules the class being written holds, by id -> how its ``__init__`` names them (``self.conv1``,
        #: ``self.net[0]``): one met again is written as that name (one module under two names, as PyTorch holds it)
        self.scope: dict[int, str] = {}
        #: the names of the containers whose elements are being written (``self.conv`` while ``nn.Sequential(..)`` is)
        self.unbuilt: list[str] = []
        self.written: dict[int, str] = {}  #: every module with tensors written so far, by id -> its path

    def write(self) -> Regenerated:
        from torch.nn.modules import module as torch_module

        if torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks:
            self.result.problems.append(Problem("", "global module hooks are registered: hooks are not translated"))
        self.user_class(self.model, "")
        written, _ = write_classes(self.instances)
        for library in ("einops", "math"):  # fx's calls of their functions, written back as `<library>.<name>`
            if any(f"{library}." in cls.text for cls in written):
                self.imports.add(f"import {library}")
        header = "\n".join(["import torch", "import torch.nn as nn", "from collections import OrderedDict",
                            *sorted(self.imports)]) + "\n\n\n"
        parts, origins, line = [], {}, header.count("\n") + 1
        for cls in written:
            traced: TracedMethod | None = cls.members[0].payload
            if traced is not None:
                method = f"{cls.name}.forward"
                self.result.traced.append(method)
                if traced.fixed:
                    self.result.fixed[method] = traced.fixed
                if traced.decisions:
                    self.result.decisions[method] = traced.decisions
                if traced.rerolled:
                    self.result.rerolled.append(method)
                if traced.by_mode:
                    self.result.by_mode.append(method)
                for offset, where in traced.lines.items():
                    origins[line + cls.forward_line + offset - 2] = where
            parts.append(cls.text)
            line += cls.text.count("\n") + 2
        self.result.source = header + "\n\n".join(parts)
        self.result.origins = origins
        return self.result

    # ----------------------------------------------------------------- expressions for submodules

    def expression(self, module: nn.Module | None, path: str, name: str | None = None) -> str:
        """The source that builds ``module`` (at ``path``); ``name``: how the class being written names it."""
        if module is None:
            return "None"
        stateless = next(chain(module.parameters(), module.buffers()), None) is None
        known = self.scope.get(id(module))
        if known is not None and not (stateless and any(known.startswith(f"{name}[") for name in self.unbuilt)):
            return known  # self.net = nn.Sequential(self.conv1, ...): the same module
        # a module without tensors met again inside the container that holds it is written again: two modules
        # compute the same (diffusers' `act = get_activation(..)` twice in one Sequential, where `self.conv[1]`
        # does not exist yet)
        if id(module) in self.written:
            self.result.problems.append(Problem(path, f"the same {type(module).__name__} as `{self.written[id(module)]}` "
                                                      "(one module under two names, in different classes): not "
                                                      "regenerated yet (it would be two modules, each with its tensors)"))
            return "None"
        if not stateless:
            self.written[id(module)] = path
        if name is not None:
            self.scope[id(module)] = name
        if container_class(module) is not None:  # a container, or a subclass keeping its forward
            return self.container(module, path, name)
        if isinstance(module, (nn.ParameterList, nn.ParameterDict)) and not all(
                isinstance(p, nn.Parameter) for p in (module.values() if isinstance(module, nn.ParameterDict) else module)):
            self.result.problems.append(Problem(path, f"a {type(module).__name__} holding other containers or plain "
                                                      "tensors is not regenerated yet"))
            return "None"
        if isinstance(module, nn.ParameterList):  # values are ported: zeros of each shape
            return f"nn.ParameterList([{', '.join(parameter_call(p) for p in module)}])"
        if isinstance(module, nn.ParameterDict):
            inner = ", ".join(f"{key!r}: {parameter_call(p)}" for key, p in module.items())
            return f"nn.ParameterDict({{{inner}}})"
        parametrized = self.parametrized_layer(module, path)  # weight_norm(...) or a class applying the parametrizations
        if parametrized is not None:
            return parametrized
        einops_layer = einops_call(module)
        if einops_layer is not None:
            self.imports.add("from einops.layers.torch import Rearrange, Reduce")
            return einops_layer
        if is_torch_layer(module):
            try:
                return layer_call(module)
            except UnrecoverableLayer as error:
                self.result.problems.append(Problem(path, str(error)))
                return "None"
        return self.user_class(module, path)

    def container(self, module: nn.Module, path: str, name: str | None = None) -> str:
        children = list(module._modules.items())
        self.unbuilt.append(name or "")
        try:
            items = [(key, self.expression(child, join(path, key), None if name is None else element_name(module, name, key)))
                     for key, child in children]
        finally:
            self.unbuilt.pop()
        kind = container_class(module).__name__
        if isinstance(module, nn.ModuleDict):
            inner = ", ".join(f"{name!r}: {text}" for name, text in items)
            return f"nn.ModuleDict({{{inner}}})"
        if all(name == str(i) for i, (name, _) in enumerate(items)):
            inner = ", ".join(text for _, text in items)
            return f"nn.{kind}([{inner}])" if kind == "ModuleList" else f"nn.Sequential({inner})"
        inner = ", ".join(f"({name!r}, {text})" for name, text in items)
        return f"nn.Sequential(OrderedDict([{inner}]))"

    # ----------------------------------------------------------------- user classes

    def user_class(self, module: nn.Module, path: str) -> str:
        """Record ``module`` as an :class:`~translator.instance.variants.Instance`; return the token its
        class's call replaces once every instance is known (``variants.write_classes``)."""
        for submodule_path, submodule in [(path, module)] + [(join(path, n), c) for n, c in module._modules.items()]:
            self.refuse_hidden_behaviour(submodule, submodule_path)
        forward = self.forward_body(module, path)  # first: it records how the children are called
        lines = self.init_lines(module, path, forward.tensor_constants if forward else {})
        instance = Instance(len(self.instances), type(module).__name__, lines, forward.source if forward else None, forward)
        self.instances.append(instance)
        return TOKEN.format(instance.index)

    def refuse_hidden_behaviour(self, module: nn.Module | None, path: str) -> None:
        """Hooks and parametrizations change what a module computes without showing in its methods
        (the trace calls submodules without running their hooks): reported, never dropped."""
        if module is None or id(module) in self.inspected:
            return
        self.inspected.add(id(module))
        hooks = [kind for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
                 if getattr(module, kind, None)]
        refused = untranslated_parametrization(module)
        if hooks and (weight_norm_of(module) is None or refused):
            self.result.problems.append(Problem(path, f"{type(module).__name__} has {', '.join(h.strip('_') for h in hooks)}: "
                                                      "hooks are not translated (torch.nn.utils.weight_norm is, on a "
                                                      "Linear, ConvNd or ConvTransposeNd)"))
        elif parametrize.is_parametrized(module) and refused:
            self.result.problems.append(Problem(path, f"{type(module).__name__} is parametrized "
                                                      f"({', '.join(module.parametrizations)}): {refused}"))

    def parametrized_layer(self, module: nn.Module, path: str) -> str | None:
        """A weight-normalised torch layer as ``weight_norm(<its plain call>)`` (rule L060, as the source writes
        it); a torch layer with other parametrizations as a class of its own (:meth:`parametrized_class`);
        ``"None"`` for one :meth:`refuse_hidden_behaviour` reported; None for any other module."""
        if not parametrize.is_parametrized(module) and weight_norm_of(module) is None:
            return None
        if not plain_class(module).__module__.startswith("torch.nn."):
            return None  # a user module: regenerated as one (its hook or parametrization is reported)
        if untranslated_parametrization(module):
            return "None"
        normed = weight_norm_of(module)
        if normed is None:
            return self.parametrized_class(module, path)
        try:
            call = layer_call(unparametrized_view(module))
        except UnrecoverableLayer as error:
            self.result.problems.append(Problem(path, str(error)))
            return "None"
        dim = "" if normed.dim == 0 else f", dim={normed.dim}"
        return f"{normed.function}({call}{dim})"

    def parametrized_class(self, module: nn.Module, path: str) -> str:
        """``ParametrizedLinear``: the layer's plain tensors (``bias``), each parametrized tensor's original
        (``weight_original``) and its parametrization modules (``weight_parametrizations``, translated as any
        user module), and a forward that computes ``weight = chain(weight_original)`` and calls the layer's
        functional form (F.linear, F.convNd: rules T048, T058).  The port plan maps
        ``parametrizations.weight.original`` and ``parametrizations.weight.<i>`` to them
        (:func:`translator.weights.plan.walk_parametrized`)."""
        lines = [f"self.{name} = {'None' if p is None else parameter_call(p)}" for name, p in module._parameters.items()]
        values = {name: f"self.{name}" for name in module._parameters}
        prologue = []
        for parametrization in parametrizations_of(module):
            name = parametrization.name
            lines.append(f"self.{name}_original = {parameter_call(module.get_parameter(parametrization.original_key))}")
            steps, value = [], f"self.{name}_original"
            for index, step in enumerate(parametrization.chain):
                step_path = join(path, f"parametrizations.{name}.{index}")
                self.calls.setdefault(step_path, [Call(1, frozenset())])  # called on the tensor alone
                steps.append(self.expression(step, step_path))
                value = f"self.{name}_parametrizations[{index}]({value})"
            lines.append(f"self.{name}_parametrizations = nn.ModuleList([{', '.join(steps)}])")
            prologue.append(f"{name} = {value}")
            values[name] = name
        body = [*prologue, f"return {functional_call(module, values)}"]
        forward = "def forward(self, input):\n" + "".join(f"    {line}\n" for line in body)
        instance = Instance(len(self.instances), type(module).__name__, lines, forward, None)
        self.instances.append(instance)
        return TOKEN.format(instance.index)

    def init_lines(self, module: nn.Module, path: str, traced_constants: dict[str, torch.Tensor]) -> list[str]:
        """The lines of ``__init__`` after ``super().__init__()``: parameters, buffers, constants, children."""
        lines = []
        for name, parameter in module._parameters.items():
            if parameter is None:
                lines.append(f"self.{name} = None")
                continue
            lines.append(f"self.{name} = {parameter_call(parameter)}")
        for name, buffer in module._buffers.items():
            if buffer is None:
                lines.append(f"self.register_buffer({name!r}, None)")
                continue
            if name in module._non_persistent_buffers_set:
                self.result.constants[join(path, name)] = buffer.detach().cpu().numpy()
            lines.append(f"self.register_buffer({name!r}, {zeros(buffer)})")
        for name, tensor in traced_constants.items():
            self.result.constants[join(path, name)] = tensor.detach().cpu().numpy()
            lines.append(f"self.register_buffer({name!r}, {zeros(tensor)})  # a constant of the traced forward")
        outer, self.scope = self.scope, {}
        try:
            for name, child in module._modules.items():
                lines.append(f"self.{name} = {self.expression(child, join(path, name), f'self.{name}')}")
        finally:
            self.scope = outer
        return lines

    def forward_body(self, module: nn.Module, path: str) -> TracedMethod | None:
        if type(module).forward is nn.Module.forward:
            return None
        try:
            traced = trace_forward(module, self.calls.get(path, []), self.examples.get(id(module)), self.reroll)
        except TraceFailed as error:
            if self.examples and id(module) not in self.examples:
                return self.never_called(module, error)
            self.result.problems.append(Problem(path, f"{type(module).__name__}.forward: {error}",
                                                error.location or source_line(module)))
            return None
        for child, calls in traced.calls.items():
            self.calls.setdefault(join(path, child), []).extend(calls)
        return traced

    def never_called(self, module: nn.Module, error: TraceFailed) -> TracedMethod:
        """A submodule the model did not call on the example inputs (``self.options[key](x)`` with ``key``
        fixed by the configuration), whose forward cannot be traced without a call's values: its
        parameters are kept (they are in the state dict), its forward raises if a call ever reaches it."""
        name = type(module).__name__
        self.result.not_run.append(f"{name}.forward")
        message = (f"{name}.forward was not run on the example inputs, so it was not traced ({error}); "
                   "translate with inputs that reach it")
        return TracedMethod(f"def forward(self, *args, **kwargs):\n    raise NotImplementedError({message!r})\n")


#: torch layers whose parametrized form is written with their functional form: the function and the
#: attributes it takes besides the input, weight and bias
FUNCTIONAL_FORMS = {
    nn.Linear: ("torch.nn.functional.linear", ()),
    nn.Conv1d: ("torch.nn.functional.conv1d", ("stride", "padding", "dilation", "groups")),
    nn.Conv2d: ("torch.nn.functional.conv2d", ("stride", "padding", "dilation", "groups")),
    nn.Conv3d: ("torch.nn.functional.conv3d", ("stride", "padding", "dilation", "groups")),
}


def untranslated_parametrization(module: nn.Module) -> str | None:
    """Why the hooks or parametrizations of ``module`` are not translated, or None when they are (or it has
    none): a weight norm of a layer rule L060 wraps, or parametrizations of a layer with a functional form,
    each of one original tensor, on its ``weight``/``bias``, with no hook besides."""
    from translator.rules.layers.weight_norm import WRAPPED_RANKS

    normed = weight_norm_of(module)
    if normed is not None:
        return None if normed.layer_class in WRAPPED_RANKS else (
            f"weight_norm is translated on a Linear, ConvNd or ConvTransposeNd, not a {normed.layer_class.__name__}")
    hooked = any(getattr(module, kind, None) for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                                                           "_backward_pre_hooks"))
    if not parametrize.is_parametrized(module):
        return "hooks are not translated" if hooked else None
    form = FUNCTIONAL_FORMS.get(plain_class(module))
    if form is None or hooked:
        return (f"parametrizations are translated on {', '.join(c.__name__ for c in FUNCTIONAL_FORMS)} layers "
                "(written with their functional form), with no hook besides")
    if getattr(module, "padding_mode", "zeros") != "zeros":
        return f"a parametrized convolution with padding_mode={module.padding_mode!r} is not translated"
    found = parametrizations_of(module)
    if found is None:
        return "a parametrization whose right_inverse returns several tensors is not translated"
    if any(p.name not in ("weight", "bias") for p in found):
        return "parametrizations of tensors other than weight and bias are not translated"
    return None


def functional_call(module: nn.Module, values: dict[str, str]) -> str:
    """``torch.nn.functional.conv2d(input, weight, self.bias, stride=(1, 1), ...)``: the layer's call with
    its tensors' ``values`` (a parametrized one is a local of the forward)."""
    function, attributes = FUNCTIONAL_FORMS[plain_class(module)]
    arguments = ["input", values["weight"], values.get("bias", "None")]
    arguments += [f"{name}={python_literal(getattr(module, name))}" for name in attributes]
    return f"{function}({', '.join(arguments)})"


def unparametrized_view(module: nn.Module) -> nn.Module:
    """``module`` as the plain layer it was built as, for :func:`layer_call` to read and prove its call:
    the same attributes, its weight-norm hook or parametrizations gone, each parametrized tensor a
    parameter (on ``meta``) of the shape the layer computes."""
    cls = plain_class(module)
    view = cls.__new__(cls)
    view.__dict__.update(module.__dict__)
    parameters = dict(module._parameters)
    normed = weight_norm_of(module)
    if normed is not None and normed.api == "hook":
        view.__dict__.pop("weight", None)
        parameters = {name: p for name, p in parameters.items() if name not in (normed.g_key, normed.v_key)}
        parameters = {"weight": nn.Parameter(torch.empty(module.get_parameter(normed.v_key).shape, device="meta")), **parameters}
    elif parametrize.is_parametrized(module):
        for name in module.parametrizations:
            parameters[name] = nn.Parameter(torch.empty(getattr(module, name).shape, device="meta"))
    view._parameters = parameters
    view._modules = {name: child for name, child in module._modules.items() if name != "parametrizations"}
    view._forward_pre_hooks = type(module._forward_pre_hooks)()
    return view


def einops_call(module: nn.Module) -> str | None:
    """einops' ``Rearrange``/``Reduce`` layers by their constructor call (the einops rules translate them;
    their forward caches recipes by shape, which fx cannot trace)."""
    kind = type(module)
    if not kind.__module__.startswith("einops.layers") or kind.__name__ not in ("Rearrange", "Reduce"):
        return None
    arguments = [repr(module.pattern)]
    if kind.__name__ == "Reduce":
        arguments.append(repr(module.reduction))
    arguments += [f"{name}={value!r}" for name, value in module.axes_lengths.items()]
    return f"{kind.__name__}({', '.join(arguments)})"


def parameter_call(parameter: torch.Tensor) -> str:
    frozen = "" if parameter.requires_grad else ", requires_grad=False"
    return f"nn.Parameter({zeros(parameter)}{frozen})"


def zeros(tensor: torch.Tensor) -> str:
    """Source for a zero tensor of ``tensor``'s shape and dtype (its value is ported)."""
    shape = python_literal(tuple(tensor.shape))
    dtype = "" if tensor.dtype == torch.float32 else f", dtype={tensor.dtype}"
    return f"torch.zeros({shape}{dtype})"


def element_name(container: nn.Module, name: str, key: str) -> str | None:
    """How ``__init__`` names element ``key`` of the container it names ``name``: ``self.net[0]``, ``self.heads['a']``
    (None for a Sequential's named element, which the translation holds under no index)."""
    if isinstance(container, nn.ModuleDict):
        return f"{name}[{key!r}]"
    return f"{name}[{int(key)}]" if key.isdigit() else None


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


