"""Trace one module's ``forward`` on the built model, its submodules kept as calls.

``torch.fx`` symbolic tracing runs the method once with proxies for its tensor arguments: every
Python-level decision (a config attribute, a dict lookup, a helper function, a loop over a
``ModuleList``) is taken on the built model and disappears, and what remains is the tensor
program, written back as plain PyTorch source that the rule catalogue translates like any other
``forward``.  Submodules stay calls (``self.conv1(x)``): each is translated on its own.

What tracing fixes is said, never hidden: arguments no caller passes keep their default,
``self.training`` is read in both modes (a method whose program differs between them gets both),
and a method fx cannot trace (data-dependent control flow) raises :class:`TraceFailed` with
fx's reason and the user's line.

Decisions on a tensor's metadata are taken on the built model, as PyTorch takes them: every traced
value carries its concrete counterpart (from one run of the model on example inputs, see
:func:`record_calls`), so ``if x.device.type == "mps"``, ``if self.weight.dtype in (...)``,
``len(x.shape)``, ``x.ndim`` and ``for d in x.shape`` read the real answer, and each decision is
listed in :attr:`TracedMethod.decisions` (the output's docstring says them).  A decision on a
tensor's *values* stays an error: it would freeze one input's answer into the program.  Without
example inputs only the device is known (a trace runs on the CPU, as the translation does).
"""

from __future__ import annotations

import bisect
import collections.abc
import contextlib
import copy
import dis
import inspect
import math
import operator
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
import libcst.matchers as m
import torch
import torch.fx as fx
from libcst.metadata import MetadataWrapper, PositionProvider
from torch import nn

from translator.instance.loops import reroll_container_loops, submodule_at
from translator.instance.metadata_names import inline_metadata_names

#: nodes fx inserts to guard a specialised argument; the specialisation is reported instead
SPECIALISATION_GUARDS = {torch.fx._symbolic_trace._assert_is_none, torch._assert}


class TraceFailed(Exception):
    """fx could not trace a method; ``location`` is the user's (file, line) where known."""

    def __init__(self, message: str, location: tuple[str, int] | None = None):
        super().__init__(message)
        self.location = location


@dataclass
class Call:
    """How a parent's traced program calls a submodule: positional count and keyword names."""

    positional: int
    keywords: frozenset[str]
    #: arguments the caller passes as constants (``temb=None``), by position or keyword: the callee is
    #: traced with them fixed, as PyTorch runs it for this caller
    constants: dict[int | str, object] = field(default_factory=dict)


#: a traced value whose concrete counterpart is not known
UNKNOWN = object()
#: tensor attributes and methods that read metadata, never values
TENSOR_METADATA = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "is_sparse", "is_quantized", "is_meta",
                             "is_mps", "layout"})
METADATA_METHODS = frozenset({"size", "dim", "ndimension", "numel", "nelement", "element_size", "is_floating_point",
                              "is_complex", "get_device", "is_contiguous"})
def opaque_functions() -> tuple:
    """Library functions the trace records as calls instead of running them on traced values: einops'
    (its backends do not know fx's proxies; the einops rules translate the calls)."""
    try:
        import einops
    except ImportError:
        return ()
    return tuple(getattr(einops, name) for name in ("rearrange", "reduce", "repeat", "einsum", "pack", "unpack")
                 if hasattr(einops, name))


OPAQUE_FUNCTIONS = opaque_functions()
#: fx's names for them in its code (``einops_einops_rearrange``, ``einops_packing_pack``: the defining module's
#: path and the name), written back as ``einops.rearrange``
OPAQUE_NAMES = {f"{f.__module__.replace('.', '_')}_{f.__name__}": f"einops.{f.__name__}" for f in OPAQUE_FUNCTIONS}

#: the example call of each module (by ``id``): positional and keyword arguments
ExampleCalls = dict[int, tuple[tuple, dict]]


@dataclass
class TracedMethod:
    """A traced ``forward``: its source, what was fixed, and where each line came from."""

    source: str
    fixed: dict[str, object] = field(default_factory=dict)
    lines: dict[int, tuple[str, int]] = field(default_factory=dict)  #: line of ``source`` -> user's (file, line)
    calls: dict[str, list[Call]] = field(default_factory=dict)  #: submodule path (relative) -> its calls
    tensor_constants: dict[str, torch.Tensor] = field(default_factory=dict)
    by_mode: bool = False  #: the program differs between train and eval mode
    #: decisions on metadata taken at trace time: "file:line: <what> was <value>"
    decisions: list[str] = field(default_factory=list)
    rerolled: bool = False  #: loops over containers were written back (:mod:`translator.instance.loops`)


class _TensorProxy(fx.Proxy):
    """A traced value that answers ``isinstance(x, torch.Tensor)`` as its concrete value does (densenet's
    ``if isinstance(inputs, Tensor): prev_features = [inputs]``: fx's proxies answer False, and the trace
    took the branch for a list)."""

    @property
    def __class__(self):
        # only to the user's own `isinstance(x, ...)`: fx's checks must keep seeing a proxy, and torch's C++
        # (which reads `__class__` too, then the object as a tensor: a segfault on GPT-2) never sees a tensor
        frame = sys._getframe(1)
        if frame.f_globals.get("__name__", "").startswith(("torch", "translator", "einops")) or not calls_isinstance(frame):
            return type(self)
        node = object.__getattribute__(self, "__dict__").get("node")  # not through fx's __getattr__
        concrete = node.meta.get("concrete", UNKNOWN) if node is not None else UNKNOWN
        return torch.Tensor if isinstance(concrete, torch.Tensor) else type(self)


def calls_isinstance(frame) -> bool:
    """Whether ``frame`` is executing a call of the builtin ``isinstance`` (read from its bytecode: the call
    instruction and, a few instructions before it, the load of the name ``isinstance``)."""
    instructions = list(dis.get_instructions(frame.f_code))
    at = bisect.bisect_left(instructions, frame.f_lasti, key=lambda i: i.offset)
    if at >= len(instructions) or instructions[at].opname not in ("CALL", "PRECALL", "CALL_FUNCTION"):  # 3.10-3.12
        return False
    window = instructions[max(0, at - 8):at]
    if window and window[-1].opname == "PRECALL":  # 3.11 writes PRECALL n; CALL n for one call
        window = window[:-1]
    for instruction in reversed(window):
        if instruction.opname in ("CALL", "PRECALL", "CALL_FUNCTION_EX"):
            return False  # an earlier call: the name loaded before it is not this call's function
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and str(instruction.argval).endswith("isinstance"):
            return True
    return False


class _Leaves(fx.Tracer):
    """Every submodule is a leaf: the traced program calls it.  Each node carries its concrete value
    (``node.meta["concrete"]``, :data:`UNKNOWN` where it cannot be computed) and whether it is
    metadata only (``node.meta["static"]``): a decision on metadata is taken, on values refused."""

    def __init__(self, example: tuple[tuple, dict] | None = None):
        super().__init__(autowrap_functions=OPAQUE_FUNCTIONS)
        self.record_stack_traces = True
        self.proxy_buffer_attributes = True  # buffers are state read in the program, not constants
        self.example = example
        self.bound: dict[str, object] = {}
        self.decisions: list[str] = []
        #: (node, conversion or None) -> (value, what was decided): sizes the program was specialised to
        self.guards: dict[tuple[fx.Node, object], tuple[object, str]] = {}

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return True

    def trace(self, root, concrete_args=None):
        if self.example is not None:
            args, kwargs = self.example
            try:
                forward = getattr(type(root), "_traced_forward", type(root).forward)  # the user's, not a shim
                bound = inspect.signature(forward).bind(root, *args, **kwargs).arguments
                self.bound = {}
                for name, value in bound.items():  # **kwargs' entries by their own names (shim parameters)
                    kind = inspect.signature(forward).parameters[name].kind
                    self.bound.update(value if kind is inspect.Parameter.VAR_KEYWORD else {name: value})
            except TypeError:
                self.bound = {}
        return super().trace(root, concrete_args)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _TensorProxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        value, static = self.concrete(kind, target, args, kwargs)
        proxy.node.meta["concrete"], proxy.node.meta["static"] = value, static
        return proxy

    def concrete(self, kind: str, target, args: tuple, kwargs: dict) -> tuple[object, bool]:
        """The concrete value of a new node, and whether it reads only metadata."""
        if kind == "placeholder":
            return self.bound.get(re.sub(r"_\d+$", "", str(target)), UNKNOWN), False
        if kind == "get_attr":
            try:
                return _attribute_path(self.root, target), False
            except AttributeError:
                return UNKNOWN, False
        values = fx.node.map_aggregate(args, concrete_of)
        keywords = fx.node.map_aggregate(kwargs, concrete_of)
        proxies = _flat_proxies(args, kwargs)
        inputs_static = all(p.node.meta.get("static") for p in proxies)
        static = False
        if kind == "call_function" and target is getattr:
            owner, attribute = values[0], values[1]
            static = inputs_static or (attribute in TENSOR_METADATA and isinstance(owner, torch.Tensor))
            if owner is UNKNOWN and attribute in ("device", "is_cuda", "is_mps"):  # the trace runs on the CPU
                return (torch.device("cpu") if attribute == "device" else False), True
        elif kind == "call_method":
            static = target in METADATA_METHODS or (bool(proxies) and inputs_static)
        elif kind == "call_function":
            # fx records math's functions as calls (`sqrt(n)` of a traced size): on metadata, metadata
            static = getattr(target, "__module__", None) in ("_operator", "operator", "builtins", "math") and inputs_static
        if any(v is UNKNOWN for v in _flat_values(values, keywords)):
            return UNKNOWN, static
        try:
            return _evaluate(self.root, kind, target, values, keywords), static
        except Exception:
            return UNKNOWN, static

    def to_bool(self, obj: fx.Proxy) -> bool:
        value = obj.node.meta.get("concrete", UNKNOWN)
        if not obj.node.meta.get("static") or value is UNKNOWN:
            return super().to_bool(obj)
        self.decide(obj.node, "a condition on metadata was", bool(value))
        return bool(value)

    def decide(self, node: fx.Node, what: str, value: object, via=None) -> None:
        """Record a decision on ``node``'s concrete value (``via``: on ``via(value)``, ``len`` or ``int``); one
        on a size read from a traced shape is also checked where the program runs (:func:`insert_shape_guards`)."""
        where = user_location_from_text(node.stack_trace)
        place = f"{Path(where[0]).name}:{where[1]}" if where else "forward"
        self.decisions.append(f"{place}: {what} {value!r} when traced")
        if isinstance(value, (bool, int, float)) and reads_a_shape(node):
            self.guards.setdefault((node, via), (value, f"{place}: {what} {value!r} when traced"))


#: reads of a tensor's shape: a value computed from them is a size of the traced inputs (or of a weight)
SHAPE_ATTRIBUTES, SHAPE_METHODS = frozenset({"shape", "ndim"}), frozenset({"size", "dim", "ndimension", "numel", "nelement"})


def reads_a_shape(node: fx.Node) -> bool:
    """Whether ``node`` (metadata) is computed from a tensor's shape, not from its device or dtype."""
    found, stack, seen = False, [node], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.op == "call_function" and current.target is getattr:
            if current.args[1] in SHAPE_ATTRIBUTES:
                found = True
                continue
            if current.args[1] in TENSOR_METADATA:
                return False
        if current.op == "call_method" and current.target in SHAPE_METHODS:
            found = True
            continue
        stack.extend(current.all_input_nodes)
    return found


def shape_guard(condition, message):
    """A size the trace specialised the program to, checked where it runs (written as ``assert``)."""
    assert condition, message


def insert_shape_guards(graph: fx.Graph, guards: dict) -> None:
    """After each size a decision read, ``assert`` it has the traced value: an input of another shape
    stops with the decision's message instead of running a program specialised to another size."""
    for (node, via), (value, message) in guards.items():
        if node.graph is not graph:
            continue
        if via in (int, float) and type(node.meta.get("concrete")) is int:
            via = None  # `float(n)` of a size: the size itself is compared
        with graph.inserting_after(node):
            quantity = graph.call_function(via, (node,)) if via is not None else node
        with graph.inserting_after(quantity):
            if value is True:
                condition = quantity
            else:  # `eq == False` rather than `not_(eq)`, which fx writes as a call of `_operator_not_`
                condition = graph.call_function(operator.eq, (quantity, value))
        with graph.inserting_after(condition):
            graph.call_function(shape_guard, (condition, f"traced for other sizes ({message}): translate again "
                                                         "with inputs of these shapes"))


def concrete_of(argument):
    return argument.node.meta.get("concrete", UNKNOWN) if isinstance(argument, fx.Proxy) else argument


def _flat_proxies(args, kwargs) -> list[fx.Proxy]:
    found: list[fx.Proxy] = []
    fx.node.map_aggregate((args, kwargs), lambda a: found.append(a) if isinstance(a, fx.Proxy) else None)
    return found


def _flat_values(values, keywords) -> list[object]:
    found: list[object] = []
    fx.node.map_aggregate((values, keywords), found.append)
    return found


def _attribute_path(root: nn.Module, target: str):
    value = root
    with fx._symbolic_trace._maybe_revert_all_patches():  # fx patches nn.Module.__getattr__ while it traces
        for part in target.split("."):
            value = getattr(value, part)
    return value


def _evaluate(root: nn.Module, kind: str, target, args: tuple, kwargs: dict):
    """Run one traced op on concrete values: no gradient, the random stream untouched, submodules in
    eval mode (only metadata is read from the result; batch norm's running statistics stay)."""
    # fx patches nn.Module.__call__ while it traces: a concrete call must not be recorded
    with fx._symbolic_trace._maybe_revert_all_patches(), torch.no_grad(), torch.random.fork_rng(devices=[]):
        if kind == "call_function":
            return target(*args, **kwargs)
        if kind == "call_method":
            return getattr(args[0], target)(*args[1:], **kwargs)
        module = root.get_submodule(target)
        training = module.training
        module.train(False)
        try:
            return module(*args, **kwargs)
        finally:
            module.train(training)


@contextlib.contextmanager
def metadata_is_concrete():
    """``len(x.shape)``, ``for d in x.shape`` and ``range(x.size(1))`` read the concrete metadata of a
    traced value (fx refuses them): each such read is a decision the trace records."""
    proxy = fx.Proxy
    originals = {name: getattr(proxy, name, None) for name in ("__len__", "__iter__", "__index__", "__getattr__",
                                                               "__getitem__", "__int__", "__float__")}

    def known(value: fx.Proxy):
        tracer = value.tracer
        concrete = value.node.meta.get("concrete", UNKNOWN)
        return (isinstance(tracer, _Leaves) and value.node.meta.get("static") and concrete is not UNKNOWN), concrete

    def length(self):
        ok, concrete = known(self)
        if isinstance(concrete, (tuple, list)) and not isinstance(concrete, torch.Size):
            return len(concrete)  # a module's tuple of outputs: structure, not a decision
        if not ok:
            return originals["__len__"](self)
        self.tracer.decide(self.node, "a length was", len(concrete), via=len)
        return len(concrete)

    def iterate(self):
        ok, concrete = known(self)
        if isinstance(concrete, (tuple, list)) and (ok or not isinstance(concrete, torch.Size)):
            if isinstance(concrete, torch.Size):
                self.tracer.decide(self.node, "a length was", len(concrete), via=len)
            return iter([self[i] for i in range(len(concrete))])
        # fx's own rule, read at the caller's frame: `a, b = proxy` unpacks by the bytecode's count
        caller = inspect.currentframe().f_back
        instructions = list(dis.get_instructions(caller.f_code))
        at = bisect.bisect_left(instructions, caller.f_lasti, key=lambda i: i.offset)
        if at < len(instructions) and instructions[at].opname == "UNPACK_SEQUENCE":
            return iter([self[i] for i in range(instructions[at].argval)])
        return self.tracer.iter(self)

    def index(self):
        ok, concrete = known(self)
        if not ok or not isinstance(concrete, int):
            raise TypeError("a traced value cannot be used as a Python int")
        self.tracer.decide(self.node, "a size was", concrete)
        return concrete

    def number(kind: type):
        def convert(self):  # `int(sqrt(n))` of a traced size: the number it has
            ok, concrete = known(self)
            if not ok or not isinstance(concrete, (int, float)) or isinstance(concrete, bool):
                raise TypeError(f"a traced value cannot be used as a Python {kind.__name__}")
            self.tracer.decide(self.node, "a size was", kind(concrete), via=kind)
            return kind(concrete)
        return convert

    def attribute(self, name):
        """``out.last_hidden_state`` on a submodule's mapping output (Hugging Face's ``ModelOutput`` is an
        ordered dict; the submodule's traced forward returns a plain dict) is ``out["last_hidden_state"]``,
        and a field it does not hold (``ModelOutput`` drops ``None`` fields) is ``None`` now, while
        tracing, so that ``out.cache is None`` takes PyTorch's branch."""
        if type(self) in (proxy, _TensorProxy) and isinstance(self.tracer, _Leaves) and not name.startswith("__"):
            concrete = self.node.meta.get("concrete", UNKNOWN)
            if self.node.op == "call_module" and isinstance(concrete, collections.abc.Mapping):
                if name in concrete:
                    return self[name]
                if getattr(concrete, name, UNKNOWN) is None:
                    return None
            if isinstance(concrete, torch.Tensor) and not hasattr(concrete, name):
                # `hasattr(x, "jax")` is False for the tensor, as it must be for its traced value
                raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        return originals["__getattr__"](self, name)

    def item(self, key):
        """``outputs[1]`` on a submodule's mapping output: Hugging Face's ``ModelOutput`` indexes its
        fields that are not None in order (``outputs[1]`` is ``pooler_output``); the traced submodule
        returns a dict, so the index becomes that field's name."""
        if type(self) in (proxy, _TensorProxy) and isinstance(self.tracer, _Leaves) and isinstance(key, int):
            concrete = self.node.meta.get("concrete", UNKNOWN)
            if self.node.op == "call_module" and isinstance(concrete, collections.abc.Mapping):
                return originals["__getitem__"](self, list(concrete.keys())[key])
        return originals["__getitem__"](self, key)

    def type_info(original):
        def concrete_info(dtype=None):  # torch.finfo(x.dtype): the dtype the traced value has
            if isinstance(dtype, fx.Proxy):
                ok, concrete = known(dtype)
                if ok and isinstance(concrete, torch.dtype):
                    dtype.tracer.decide(dtype.node, "a dtype was", concrete)
                    dtype = concrete
            return original() if dtype is None else original(dtype)
        return concrete_info

    def as_tensor(data, dtype=None, device=None):  # of a traced tensor, without a cast: the tensor itself
        if isinstance(data, fx.Proxy) and dtype is None:
            return data
        return infos["as_tensor"](data, dtype=dtype, device=device)

    infos = {"finfo": torch.finfo, "iinfo": torch.iinfo, "as_tensor": torch.as_tensor}
    proxy.__len__, proxy.__iter__, proxy.__index__, proxy.__getattr__ = length, iterate, index, attribute
    proxy.__getitem__ = item
    proxy.__int__, proxy.__float__ = number(int), number(float)
    torch.finfo, torch.iinfo, torch.as_tensor = type_info(infos["finfo"]), type_info(infos["iinfo"]), as_tensor
    # imported inside forward (`from einops import rearrange`): read from the package at call time; the
    # defining module keeps its own (einops' rearrange calls its reduce)
    package = sys.modules.get("einops")
    opaque = {function: recorded(function) for function in OPAQUE_FUNCTIONS}
    for function, replacement in opaque.items():
        setattr(package, function.__name__, replacement)
    try:
        yield
    finally:
        torch.finfo, torch.iinfo, torch.as_tensor = infos["finfo"], infos["iinfo"], infos["as_tensor"]
        for function in opaque:
            setattr(package, function.__name__, function)
        for name, original in originals.items():
            if original is None:
                delattr(proxy, name)
            else:
                setattr(proxy, name, original)


def fold_dtypes(graph: fx.Graph, tracer: _Leaves) -> None:
    """A dtype read from a traced value (``kernel.to(x.dtype)``) is written as the dtype it was
    (``torch.float32``): the rules translate a dtype constant, not a variable that may hold one.
    Each fold is a decision on metadata, listed with the others."""
    for node in list(graph.nodes):
        value = node.meta.get("concrete", UNKNOWN)
        if node.op in ("call_function", "call_method") and node.meta.get("static") and isinstance(value, torch.dtype):
            if node.users:
                tracer.decide(node, "a dtype was", value)
            for user in list(node.users):
                user.replace_input_with(node, value)


def drop_device_moves(graph: fx.Graph) -> None:
    """``.to(x.device)`` and ``device=x.device`` name where a tensor lives, read from a traced value: the
    translation has one device (JAX places arrays), so the argument goes; ``.to()`` with nothing left is
    the tensor itself."""
    for node in list(graph.nodes):
        if not (node.meta.get("static") and isinstance(node.meta.get("concrete"), torch.device)):
            continue
        for user in list(node.users):
            if user.op == "call_method" and user.target == "to" and node in user.args[1:]:
                user.args = tuple(a for a in user.args if a is not node)
            if user.kwargs.get("device") is node:
                user.kwargs = {k: v for k, v in user.kwargs.items() if k != "device"}
            if user.op == "call_method" and user.target == "to" and len(user.args) == 1 and not user.kwargs:
                user.replace_all_uses_with(user.args[0])
                graph.erase_node(user)


def cast_like_by_dtype(graph: fx.Graph, tracer: _Leaves) -> None:
    """``y.to(x)`` with ``x`` a traced tensor takes ``x``'s dtype and device: the dtype it has when traced
    (a decision, said), written as ``y.to(torch.float32)``; the device goes, as in :func:`drop_device_moves`."""
    for node in list(graph.nodes):
        if node.op != "call_method" or node.target != "to" or len(node.args) != 2 or node.kwargs:
            continue
        other = node.args[1]
        concrete = other.meta.get("concrete") if isinstance(other, fx.Node) else None
        if isinstance(concrete, torch.Tensor):
            tracer.decide(other, "the dtype of a `.to(tensor)` was", concrete.dtype)
            node.args = (node.args[0], concrete.dtype)


#: functional spatial ops by their number of spatial axes (PyTorch also takes them without a batch axis)
SPATIAL_FUNCTIONS = {getattr(torch.nn.functional, f"{op}{n}d"): n for n in (1, 2, 3)
                     for op in ("conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool")}
SPATIAL_MODULES = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3, nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2,
                   nn.ConvTranspose3d: 3, nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AvgPool1d: 1,
                   nn.AvgPool2d: 2, nn.AvgPool3d: 3, nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2,
                   nn.AdaptiveAvgPool3d: 3, nn.AdaptiveMaxPool2d: 2}


def refuse_unbatched_spatial_inputs(graph: fx.Graph, root: nn.Module) -> None:
    """A convolution or pool the trace saw called without a batch axis (``F.max_pool2d`` of a (C, H, W) tensor,
    which PyTorch accepts): the translation runs them channels-last on (N, ..., C), so it is refused at the
    user's line rather than written for a rank it does not have."""
    for node in graph.nodes:
        spatial = None
        if node.op == "call_function":
            spatial = SPATIAL_FUNCTIONS.get(node.target)
        elif node.op == "call_module":
            try:
                spatial = SPATIAL_MODULES.get(type(root.get_submodule(node.target)))
            except AttributeError:
                spatial = None
        if spatial is None or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        value = node.args[0].meta.get("concrete")
        if isinstance(value, torch.Tensor) and value.dim() == spatial + 1:
            where = user_location_from_text(node.stack_trace)
            raise TraceFailed(f"an input without a batch axis ({tuple(value.shape)}) reaches a {spatial}-d convolution "
                              "or pool: the translation runs them channels-last on batched input; add the batch "
                              "axis (x[None]) or check with batched inputs", where)


def recorded(function):
    """``function`` as a call the trace records when a traced value reaches it (else the function)."""

    def call(*args, **kwargs):
        proxies = _flat_proxies(args, kwargs)
        if proxies:
            return proxies[0].tracer.create_proxy("call_function", function, args, kwargs)
        return function(*args, **kwargs)

    return call


def drop_unused_metadata(graph: fx.Graph) -> None:
    """Metadata reads a decision consumed (``x.device.type == "mps"``) leave the program."""
    for node in reversed(list(graph.nodes)):
        if node.op in ("call_function", "call_method") and node.meta.get("static") and not node.users:
            graph.erase_node(node)
        elif node.op == "get_attr" and not node.users:  # a weight whose dtype alone was read
            graph.erase_node(node)


def record_calls(model: nn.Module, examples: tuple) -> ExampleCalls:
    """Run ``model(*examples)`` once (eval mode, no gradient, state and random stream restored) and
    keep each module's first call: the concrete values a trace reads its metadata from."""
    calls: ExampleCalls = {}

    def keep(module, args, kwargs):
        calls.setdefault(id(module), (args, kwargs))

    handles = [module.register_forward_pre_hook(keep, with_kwargs=True) for module in model.modules()]
    modes = {module: module.training for module in model.modules()}
    saved = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    try:
        model.train(False)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model(*examples)
    except Exception:  # a model PyTorch itself cannot run on these inputs: the trace knows less
        pass
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                tensor.copy_(saved[name])
    return calls


def trace_forward(module: nn.Module, callers: list[Call], example: tuple[tuple, dict] | None = None,
                  reroll: bool = True) -> TracedMethod:
    """``module.forward`` as PyTorch source in which submodules are calls (both modes when they differ);
    ``example``: the arguments of one real call, whose metadata the trace's decisions read; ``reroll``:
    write unrolled loops over containers back as loops."""
    fixed = fixed_arguments(module, callers)
    training = module.training
    before = plain_state(module)
    try:
        with named_parameters_only(module, keywords_into_kwargs(module, callers)):
            module.train(False)
            evaluation = trace_once(module, fixed, example, reroll)
            module.train(True)
            train = trace_once(module, fixed, example, reroll)
    finally:
        module.train(training)
        changed = restore_plain_state(module, before)
    if changed:
        raise TraceFailed(f"it changes {', '.join(f'`self.{name}`' for name in changed)} (state kept across calls in a "
                          "Python attribute): a trace would freeze one value", source_line(module))
    if train.source == evaluation.source:
        return evaluation
    merged = merge_modes(train, evaluation)
    merged.decisions = list(dict.fromkeys(train.decisions + evaluation.decisions))
    merged.rerolled = train.rerolled or evaluation.rerolled
    return merged


def plain_state(module: nn.Module) -> dict[tuple[str, str], object]:
    """The plain Python values (numbers, strings, tuples, lists, dicts of them) every module holds."""
    state = {}
    for path, sub in module.named_modules():
        for name, value in vars(sub).items():
            if not name.startswith("_") and name != "training" and isinstance(value, (bool, int, float, str, tuple, list, dict)):
                state[(path, name)] = copy.deepcopy(value)
    return state


def restore_plain_state(module: nn.Module, before: dict[tuple[str, str], object]) -> list[str]:
    """Put back what running forward changed; the names changed."""
    changed = []
    for (path, name), value in before.items():
        sub = module.get_submodule(path)
        try:
            same = vars(sub).get(name) == value
        except Exception:
            same = False
        if not same:
            setattr(sub, name, value)
            changed.append(f"{path}.{name}" if path else name)
    return changed


def fixed_arguments(module: nn.Module, callers: list[Call]) -> dict[str, object]:
    """Parameters traced at a fixed value: those with defaults that no caller passes (their default),
    and those every caller passes as the same constant (``temb=None``: that constant; the parameter
    stays in the signature, see :data:`KEPT`).  ``*args``/``**kwargs`` that no caller fills are traced
    empty (diffusers' ``forward(self, x, *args, **kwargs)`` keeps them for deprecated arguments);
    filled ones are refused."""
    parameters = list(forward_signature(type(module)).parameters.values())[1:]  # without self
    extra = keywords_into_kwargs(module, callers)
    named = [p for p in parameters if p.kind not in VARIADIC]
    positional = [p for p in named if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in extra]
    for parameter in parameters:
        if parameter.kind in VARIADIC and any(call.positional > len(positional) or call.keywords - {p.name for p in named}
                                              for call in callers):
            raise TraceFailed(f"forward takes *{parameter.name} and a caller fills it: give it named parameters to "
                              "trace it", source_line(module))
    fixed: dict[str, object] = {}
    for parameter in named:
        index = positional.index(parameter) if parameter in positional else -1
        passed = [call for call in callers if 0 <= index < call.positional or parameter.name in call.keywords]
        if not passed:
            if parameter.default is not inspect.Parameter.empty:
                fixed[parameter.name] = parameter.default
            continue
        values = [call.constants.get(parameter.name, call.constants.get(index, NOT_CONSTANT)) for call in callers]
        if len(passed) == len(callers) and all(v is not NOT_CONSTANT and same_constant(v, values[0]) for v in values):
            fixed[parameter.name] = KEPT(values[0])
            continue
        absent = [call for call in callers if call not in passed]
        none_for_some = any(v is None for v in values) or (absent and parameter.default is None)
        if none_for_some and any(v is NOT_CONSTANT for v, call in zip(values, callers) if call in passed):
            raise TraceFailed(f"`{parameter.name}` is None for one caller and a tensor for another: one trace cannot "
                              "take both branches of a `None` test", source_line(module))
    return fixed


NOT_CONSTANT = object()


class KEPT:
    """A fixed value every caller passes: the parameter stays in the traced signature (unused)."""

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def is_constant(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def same_constant(a, b) -> bool:
    return type(a) is type(b) and a == b


VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def forward_signature(cls: type) -> inspect.Signature:
    """The signature of the function a class's ``forward`` finally runs: a decorator's wrapper may
    advertise extra, deprecated parameters (``__signature__``) that the function itself does not take."""
    return inspect.signature(inspect.unwrap(cls.forward), follow_wrapped=False)


def keywords_into_kwargs(module: nn.Module, callers: list[Call]) -> tuple[str, ...]:
    """Keywords every caller passes into ``forward``'s ``**kwargs`` (diffusers' ``attn(x, temb=temb)``
    into ``**cross_attention_kwargs``): traced as keyword parameters of their own."""
    parameters = forward_signature(type(module)).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters) or not callers:
        return ()
    named = {p.name for p in parameters if p.kind not in VARIADIC}
    every = set.intersection(*(set(call.keywords) - named for call in callers))
    return tuple(sorted(every))


@contextlib.contextmanager
def named_parameters_only(module: nn.Module, extra: tuple[str, ...] = ()):
    """While tracing, ``module``'s class is a subclass whose ``forward`` has only the named parameters
    (and ``extra`` keywords, passed on into ``**kwargs``) and calls the original with them (fx reads a
    forward's code object: ``*args`` would become a placeholder it cannot bind)."""
    cls = type(module)
    parameters = list(forward_signature(cls).parameters.values())
    if not any(p.kind in VARIADIC for p in parameters) and not hasattr(cls.forward, "__wrapped__"):
        yield
        return
    parameters += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in extra]
    # every parameter positional-or-keyword (fx rewrites a code object with keyword-only parameters
    # into one that takes them positionally, and the wrapper under it then sees a traced *args)
    text, passed, defaults = [], [], {}
    for parameter in parameters:
        if parameter.kind in VARIADIC:
            continue
        default = ""
        if parameter.default is not inspect.Parameter.empty or defaults:
            defaults[parameter.name] = None if parameter.default is inspect.Parameter.empty else parameter.default
            default = f"=_defaults[{parameter.name!r}]"
        text.append(parameter.name + default)
        # by keyword after self: a decorator's wrapper (HF's deprecate_kwarg) may rename arguments into positions
        passed.append(parameter.name if not passed else f"{parameter.name}={parameter.name}")
    namespace = {"_defaults": defaults, "_original": cls.forward}
    exec(f"def forward({', '.join(text)}):\n    return _original({', '.join(passed)})\n", namespace)  # noqa: S102
    module.__class__ = type(cls.__name__, (cls,), {"forward": namespace["forward"], "__module__": cls.__module__,
                                                   "_traced_forward": cls.forward})
    try:
        yield
    finally:
        module.__class__ = cls


def trace_once(module: nn.Module, fixed: dict[str, object], example: tuple[tuple, dict] | None = None,
               reroll: bool = True) -> TracedMethod:
    tracer = _Leaves(example)
    generator = torch.random.get_rng_state()
    try:
        with proxies_pass_tensor_checks(), metadata_is_concrete(), opaque_in_defining_module(module):
            values = {name: value.value if isinstance(value, KEPT) else value for name, value in fixed.items()}
            graph = tracer.trace(module, concrete_args=values or None)
    except Exception as error:
        raise TraceFailed(f"torch.fx cannot trace it: {type(error).__name__}: {first_line(error)}",
                          user_location(error.__traceback__)) from None
    finally:
        drew = not torch.equal(generator, torch.random.get_rng_state())
        torch.random.set_rng_state(generator)
    if drew:
        raise TraceFailed("it draws random numbers from arguments fixed at trace time (torch.randn(2, 3)): "
                          "tracing would freeze one draw into a constant", source_line(module))
    refuse_unbatched_spatial_inputs(graph, module)
    drop_specialisation_guards(graph, fixed)
    insert_shape_guards(graph, tracer.guards)
    fold_dtypes(graph, tracer)
    drop_device_moves(graph)
    cast_like_by_dtype(graph, tracer)
    drop_unused_metadata(graph)
    constants = {name: getattr(tracer.root, name) for name in tensor_constant_names(graph)}
    calls: dict[str, list[Call]] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            passed = {**{i: a for i, a in enumerate(node.args) if is_constant(a)},
                      **{k: v for k, v in node.kwargs.items() if is_constant(v)}}
            calls.setdefault(node.target, []).append(Call(len(node.args), frozenset(node.kwargs), passed))
    rename_reserved(graph)
    code = graph.python_code(root_module="self").src
    source, lines, rerolled = clean_source(code, graph, module, reroll)
    return TracedMethod(source, fixed, lines, calls, constants, decisions=list(dict.fromkeys(tracer.decisions)),
                        rerolled=rerolled)


@contextlib.contextmanager
def opaque_in_defining_module(module: nn.Module):
    """einops' functions bound in the module's own file (``from einops import rearrange``) recorded as calls
    there too: fx patches the globals of the function it traces, which for a decorated forward
    (``@autocast(...)``) is the decorator's file, not the user's."""
    forward = inspect.unwrap(getattr(type(module), "_traced_forward", type(module).forward))
    namespace = getattr(forward, "__globals__", {})
    replaced = {name: value for name, value in namespace.items()
                if any(value is function for function in OPAQUE_FUNCTIONS)}
    for name, value in replaced.items():
        namespace[name] = recorded(value)
    try:
        yield
    finally:
        namespace.update(replaced)


@contextlib.contextmanager
def proxies_pass_tensor_checks():
    """``torch.jit.isinstance(x, torch.Tensor)`` is True for a traced tensor (a Proxy), as it is for the
    tensor it stands for: otherwise monai's ``if x_e is not None and torch.jit.isinstance(x_e,
    torch.Tensor)`` traces the branch that drops ``x_e``."""
    original = torch.jit.isinstance

    def checked(obj, target_type):
        if isinstance(obj, fx.Proxy) and target_type is torch.Tensor:
            return True
        return original(obj, target_type)

    torch.jit.isinstance = checked
    try:
        yield
    finally:
        torch.jit.isinstance = original


def drop_specialisation_guards(graph: fx.Graph, fixed: dict[str, object]) -> None:
    """Remove fx's guards for fixed arguments, then the fixed placeholders themselves."""
    for node in reversed(list(graph.nodes)):
        if node.op == "call_function" and node.target in SPECIALISATION_GUARDS and "specialized" in str(node.args[-1]):
            inputs = [a for a in node.args if isinstance(a, fx.Node)]
            graph.erase_node(node)
            for argument in inputs:
                if argument.op == "call_function" and not argument.users:
                    graph.erase_node(argument)
    for node in list(graph.nodes):
        name = re.sub(r"_\d+$", "", node.target) if node.op == "placeholder" else None
        if name in fixed and not node.users:
            if isinstance(fixed[name], KEPT):  # callers pass it: keep it, by its own name, unused
                node.name = node.target = name
                node.args = (fixed[name].value,)
            else:
                graph.erase_node(node)


def rename_reserved(graph: fx.Graph) -> None:
    """fx names a call's result after its target: a submodule called ``self`` (Hugging Face's
    ``BertAttention.self``) would make ``self = self.self(x)`` and shadow the module."""
    taken = {node.name for node in graph.nodes}
    for node in graph.nodes:
        if node.name == "self":
            index = 1
            while f"self_{index}" in taken:
                index += 1
            node.name = f"self_{index}"
            taken.add(node.name)


def tensor_constant_names(graph: fx.Graph) -> list[str]:
    return [n.target for n in graph.nodes if n.op == "get_attr" and n.target.startswith("_tensor_constant")]


def clean_source(code: str, graph: fx.Graph, root: nn.Module,
                 reroll: bool = True) -> tuple[str, dict[int, tuple[str, int]], bool]:
    """fx's code without its ``x = None`` frees, submodules reached as the source reaches them
    (``self.blocks[0]``, ``self.experts["e0"]``), loops over containers written back (``reroll``,
    :mod:`translator.instance.loops`), and each line's origin in the user's source (from the nodes'
    stack traces), and whether a loop was written back."""
    module = cst.parse_module(code.strip() + "\n")
    module = inline_metadata_names(module.visit(_Tidy(root)))
    written: dict[int, str] | None = None
    if reroll:
        module, written = reroll_container_loops(module, root)
    text = module.code
    origins = {node.name: user_location_from_text(node.stack_trace) for node in graph.nodes if node.stack_trace}
    lines: dict[int, tuple[str, int]] = {}
    if written is not None:  # loops written back: each statement's fx name, by position
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for node, position in positions.items():
            if id(node) in written and origins.get(written[id(node)]):
                lines[position.start.line] = origins[written[id(node)]]
        return text, lines, True
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s+(\w+)(?:\s*=|,)", line)
        if match and origins.get(match.group(1)):
            lines[number] = origins[match.group(1)]
    return text, lines, False


class _Tidy(cst.CSTTransformer):
    def __init__(self, root: nn.Module):
        super().__init__()
        self.root = root

    def leave_Name(self, original, updated):
        if updated.value in OPAQUE_NAMES:
            return cst.parse_expression(OPAQUE_NAMES[updated.value])
        if updated.value in ("inf", "nan"):  # fx writes float constants by repr, binding these names in its globals
            return cst.parse_expression(f'float("{updated.value}")')
        match = re.match(r"^math_(\w+)$", updated.value)  # fx's name for math.floor(size) on a traced size
        if match and callable(getattr(math, match.group(1), None)):
            return cst.Attribute(cst.Name("math"), cst.Name(match.group(1)))
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        if m.matches(updated, m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(attr=m.Name("wrap"))))])):
            return cst.RemoveFromParent()  # fx's `torch.fx._symbolic_trace.wrap("einops_einops_rearrange")`
        guard = m.Assign(value=m.Call(func=m.Name(value=m.MatchRegex(r".*shape_guard$"))))
        updated = updated.with_changes(body=[  # fx's call of shape_guard(condition, message): an assert
            cst.Assert(test=s.value.args[0].value, msg=s.value.args[1].value) if m.matches(s, guard) else s
            for s in updated.body])
        kept = [s for s in updated.body if not frees_names(s)]
        if not kept:
            return cst.RemoveFromParent()
        return updated.with_changes(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in kept])

    def leave_Call(self, original, updated):
        if m.matches(updated, m.Call(func=m.Name("getattr"), args=[m.Arg(), m.Arg(value=m.SimpleString())])):
            owner, name = updated.args[0].value, updated.args[1].value.evaluated_value
            container = self.resolve(owner)
            # a held ModuleDict's entries by key; the traced module's own (a ModuleDict subclass, densenet's
            # DenseBlock) are its attributes in the regenerated class
            if isinstance(container, (nn.ModuleDict, nn.ParameterDict)) and not m.matches(owner, m.Name("self")):
                return cst.Subscript(owner, [cst.SubscriptElement(cst.Index(cst.SimpleString(repr(name))))])
            if name.isdigit():
                return cst.Subscript(owner, [cst.SubscriptElement(cst.Index(cst.Integer(name)))])
            if name.isidentifier():
                return cst.Attribute(owner, cst.Name(name))
        return updated

    def leave_Subscript(self, original, updated):
        """``pe[(slice(None, None, None), slice(None, n, None))]`` as ``pe[:, :n]``."""
        if len(updated.slice) != 1 or not isinstance(updated.slice[0].slice, cst.Index):
            return updated
        index = updated.slice[0].slice.value
        items = [e.value for e in index.elements] if isinstance(index, cst.Tuple) else [index]
        if not any(is_slice_call(item) for item in items):
            return updated
        elements = [cst.SubscriptElement(as_slice(item) if is_slice_call(item) else cst.Index(item)) for item in items]
        return updated.with_changes(slice=elements)

    def leave_Attribute(self, original, updated):
        if isinstance(self.resolve(updated.value), (nn.ModuleDict, nn.ParameterDict)) and not m.matches(
                updated.value, m.Name("self")):  # fx writes self.experts.e0
            return cst.Subscript(updated.value, [cst.SubscriptElement(cst.Index(cst.SimpleString(repr(updated.attr.value))))])
        return updated

    def resolve(self, node: cst.BaseExpression):
        """The submodule an expression ``self.a[0]["k"].b`` names, or None."""
        return submodule_at(self.root, node)

    def leave_Arg(self, original, updated):  # `inplace = False` -> `inplace=False`
        if updated.keyword is not None:
            return updated.with_changes(equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        return updated

    def leave_FunctionDef(self, original, updated):
        return updated.with_changes(returns=None)  # fx writes the return annotation as its own global

    def leave_Param(self, original, updated):
        updated = updated.with_changes(annotation=None)  # fx writes the user's annotations as its own globals
        if updated.default is not None:
            return updated.with_changes(equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        return updated


def is_slice_call(node: cst.BaseExpression) -> bool:
    return m.matches(node, m.Call(func=m.Name("slice"), args=[m.Arg(keyword=None)] * 3))


def as_slice(call: cst.Call) -> cst.Slice:
    lower, upper, step = (None if m.matches(a.value, m.Name("None")) else a.value for a in call.args)
    return cst.Slice(lower=lower, upper=upper, step=step)


def frees_names(statement: cst.BaseSmallStatement) -> bool:
    """fx's ``a = b = None`` that frees intermediates."""
    return m.matches(statement, m.Assign(targets=[m.AtLeastN(n=1, matcher=m.AssignTarget(target=m.Name()))], value=m.Name("None")))


def merge_modes(train: TracedMethod, evaluation: TracedMethod) -> TracedMethod:
    """One ``forward`` whose body branches on ``self.training`` (each branch a traced program)."""
    train_def = cst.ensure_type(cst.parse_module(train.source).body[0], cst.FunctionDef)
    eval_def = cst.ensure_type(cst.parse_module(evaluation.source).body[0], cst.FunctionDef)
    branch = cst.If(
        test=cst.parse_expression("self.training"),
        body=train_def.body,
        orelse=cst.Else(body=eval_def.body),
    )
    params = train_def.params if len(train_def.params.params) >= len(eval_def.params.params) else eval_def.params
    merged = train_def.with_changes(params=params, body=cst.IndentedBlock(body=[branch]))
    source = cst.Module(body=[merged]).code
    calls = {k: train.calls.get(k, []) + evaluation.calls.get(k, []) for k in set(train.calls) | set(evaluation.calls)}
    constants = {**evaluation.tensor_constants, **train.tensor_constants}
    return TracedMethod(source, train.fixed, {}, calls, constants, by_mode=True)


def user_location(tb) -> tuple[str, int] | None:
    """The innermost frame of a traceback outside torch and this package."""
    found = None
    for frame in __import__("traceback").extract_tb(tb):
        if is_user_file(frame.filename):
            found = (frame.filename, frame.lineno)
    return found


def user_location_from_text(stack: str | None) -> tuple[str, int] | None:
    found = None
    for path, line in re.findall(r'File "([^"]+)", line (\d+)', stack or ""):
        if is_user_file(path):
            found = (path, int(line))
    return found


def is_user_file(path: str) -> bool:
    return "/torch/" not in path and "/translator/" not in path and not path.startswith("<")


def source_line(module: nn.Module) -> tuple[str, int] | None:
    try:
        return inspect.getsourcefile(type(module).forward), inspect.getsourcelines(type(module).forward)[1]
    except (OSError, TypeError):
        return None


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]
