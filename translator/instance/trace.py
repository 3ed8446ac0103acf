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
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import re
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
import torch
import torch.fx as fx
from torch import nn

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


@dataclass
class TracedMethod:
    """A traced ``forward``: its source, what was fixed, and where each line came from."""

    source: str
    fixed: dict[str, object] = field(default_factory=dict)
    lines: dict[int, tuple[str, int]] = field(default_factory=dict)  #: line of ``source`` -> user's (file, line)
    calls: dict[str, list[Call]] = field(default_factory=dict)  #: submodule path (relative) -> its calls
    tensor_constants: dict[str, torch.Tensor] = field(default_factory=dict)
    by_mode: bool = False  #: the program differs between train and eval mode


class _Leaves(fx.Tracer):
    """Every submodule is a leaf: the traced program calls it."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True
        self.proxy_buffer_attributes = True  # buffers are state read in the program, not constants

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return True


def trace_forward(module: nn.Module, callers: list[Call]) -> TracedMethod:
    """``module.forward`` as PyTorch source in which submodules are calls (both modes when they differ)."""
    fixed = fixed_arguments(module, callers)
    training = module.training
    before = plain_state(module)
    try:
        module.train(False)
        evaluation = trace_once(module, fixed)
        module.train(True)
        train = trace_once(module, fixed)
    finally:
        module.train(training)
        changed = restore_plain_state(module, before)
    if changed:
        raise TraceFailed(f"it changes {', '.join(f'`self.{name}`' for name in changed)} (state kept across calls in a "
                          "Python attribute): a trace would freeze one value", source_line(module))
    if train.source == evaluation.source:
        return evaluation
    merged = merge_modes(train, evaluation)
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
    """Parameters with defaults that no caller passes: traced at their default."""
    parameters = list(inspect.signature(module.forward).parameters.values())
    fixed = {}
    for index, parameter in enumerate(parameters):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TraceFailed(f"forward takes *{parameter.name}: give it named parameters to trace it", source_line(module))
        if parameter.default is inspect.Parameter.empty:
            continue
        passed = any(index < call.positional or parameter.name in call.keywords for call in callers)
        if not passed:
            fixed[parameter.name] = parameter.default
    return fixed


def trace_once(module: nn.Module, fixed: dict[str, object]) -> TracedMethod:
    tracer = _Leaves()
    generator = torch.random.get_rng_state()
    try:
        with proxies_pass_tensor_checks():
            graph = tracer.trace(module, concrete_args=dict(fixed) or None)
    except Exception as error:
        raise TraceFailed(f"torch.fx cannot trace it: {type(error).__name__}: {first_line(error)}",
                          user_location(error.__traceback__)) from None
    finally:
        drew = not torch.equal(generator, torch.random.get_rng_state())
        torch.random.set_rng_state(generator)
    if drew:
        raise TraceFailed("it draws random numbers from arguments fixed at trace time (torch.randn(2, 3)): "
                          "tracing would freeze one draw into a constant", source_line(module))
    drop_specialisation_guards(graph, fixed)
    constants = {name: getattr(tracer.root, name) for name in tensor_constant_names(graph)}
    calls: dict[str, list[Call]] = {}
    for node in graph.nodes:
        if node.op == "call_module":
            calls.setdefault(node.target, []).append(Call(len(node.args), frozenset(node.kwargs)))
    code = graph.python_code(root_module="self").src
    source, lines = clean_source(code, graph, module)
    return TracedMethod(source, fixed, lines, calls, constants)


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
        if node.op == "placeholder" and not node.users and re.sub(r"_\d+$", "", node.target) in fixed:
            graph.erase_node(node)


def tensor_constant_names(graph: fx.Graph) -> list[str]:
    return [n.target for n in graph.nodes if n.op == "get_attr" and n.target.startswith("_tensor_constant")]


def clean_source(code: str, graph: fx.Graph, root: nn.Module) -> tuple[str, dict[int, tuple[str, int]]]:
    """fx's code without its ``x = None`` frees, submodules reached as the source reaches them
    (``self.blocks[0]``, ``self.experts["e0"]``), and each line's origin in the user's source (from
    the nodes' stack traces)."""
    module = cst.parse_module(code.strip() + "\n")
    module = module.visit(_Tidy(root))
    text = module.code
    origins = {node.name: user_location_from_text(node.stack_trace) for node in graph.nodes if node.stack_trace}
    lines: dict[int, tuple[str, int]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s+(\w+)(?:\s*=|,)", line)
        if match and origins.get(match.group(1)):
            lines[number] = origins[match.group(1)]
    return text, lines


class _Tidy(cst.CSTTransformer):
    def __init__(self, root: nn.Module):
        super().__init__()
        self.root = root

    def leave_SimpleStatementLine(self, original, updated):
        kept = [s for s in updated.body if not frees_names(s)]
        if not kept:
            return cst.RemoveFromParent()
        return updated.with_changes(body=[s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in kept])

    def leave_Call(self, original, updated):
        if m.matches(updated, m.Call(func=m.Name("getattr"), args=[m.Arg(), m.Arg(value=m.SimpleString())])):
            owner, name = updated.args[0].value, updated.args[1].value.evaluated_value
            container = self.resolve(owner)
            if isinstance(container, nn.ModuleDict):
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
        if isinstance(self.resolve(updated.value), nn.ModuleDict):  # fx writes self.experts.e0
            return cst.Subscript(updated.value, [cst.SubscriptElement(cst.Index(cst.SimpleString(repr(updated.attr.value))))])
        return updated

    def resolve(self, node: cst.BaseExpression):
        """The submodule an expression ``self.a[0]["k"].b`` names, or None."""
        if m.matches(node, m.Name("self")):
            return self.root
        if isinstance(node, cst.Attribute):
            owner = self.resolve(node.value)
            return owner._modules.get(node.attr.value) if isinstance(owner, nn.Module) else None
        if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            owner, key = self.resolve(node.value), node.slice[0].slice.value
            if isinstance(owner, nn.Module) and isinstance(key, (cst.Integer, cst.SimpleString)):
                return owner._modules.get(str(key.evaluated_value))
        return None

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
