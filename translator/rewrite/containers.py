"""``nn.Sequential``, ``nn.ModuleList`` and ``nn.ModuleDict`` in ``setup`` and at their call sites.

In ``setup`` a container becomes a plain list (or dict) of Flax layers: Flax
names the layers ``<attr>_<index>`` (``<attr>_<key>``), which is how the port
plan maps ``features.0.weight`` to ``params/features_0/kernel``.

Flax's own ``nn.Sequential`` cannot pass ``train`` to dropout or batch norm
and cannot change layout between a convolution and a ``Linear``.  A call of a
Sequential is first written out layer by layer (each layer translated by its
rule, with the layouts and flags it needs), then every run of consecutive
layers that take their input as it comes is folded into one call of a loop
shared by the whole file (with the support code)::

    def run_sequential(layers, x, train: bool = False):
        for layer in layers:
            if isinstance(layer, TorchBatchNorm):
                x = layer(x, use_running_average=not train)
            else:
                x = layer(x)
        return x

When the whole Sequential is one such run, its call site calls the loop directly
(``run_sequential(self.main, x, train=train)``, channels-last in and out when its
layers are); a Sequential with layout changes or inline layers inside (a
``Flatten``) keeps a method ``_run_<attr>`` of its own whose runs are folded the
same way.  A container built at run time (``nn.Sequential(*layers)``) is run by
the same loop, which is only translated when every element it may hold takes
and returns PyTorch's layout.
"""

from __future__ import annotations

import pydoc
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from translator.rewrite.context import FileContext, code_of, transpose
from translator.rewrite.model import ContainerAttr, FileInfo, LayerAttr, UserModuleRef
from translator.rules.base import (
    PLAIN,
    Fact,
    channels_last,
    to_channels_first_perm,
    to_channels_last_perm,
)

CONTAINER_KINDS = {
    id(pydoc.locate("torch.nn.Sequential")): "sequential",
    id(pydoc.locate("torch.nn.ModuleList")): "list",
    id(pydoc.locate("torch.nn.ModuleDict")): "dict",
}
CONTAINER_CODE = "S005"


def container_kind(qualified: str | None) -> str | None:
    if qualified is None:
        return None
    obj = pydoc.locate(qualified)
    return CONTAINER_KINDS.get(id(obj)) if obj is not None else None


def plain_compatible(element, info) -> bool:
    """Whether calling ``element(x)`` on a plain value is correct with no layout or flag handling."""
    if isinstance(element, UserModuleRef):
        return True
    if isinstance(element, LayerAttr):
        spec = element.call
        return (
            element.inline is None
            and element.wrap_call is None
            and spec.train_kwarg is None
            and spec.accepts in ("plain", "any")
            and spec.produces in ("plain", "same")
        )
    if isinstance(element, ContainerAttr):
        return False
    return False


def element_call_target(path: cst.BaseExpression, key) -> cst.BaseExpression:
    """``self.features[0]`` / ``self.heads["a"]`` as an expression."""
    index = cst.Integer(str(key)) if isinstance(key, int) else cst.SimpleString(repr(key))
    return cst.Subscript(value=path, slice=[cst.SubscriptElement(cst.Index(index))])


def sequential_method_name(path: tuple[str | int, ...]) -> str:
    return "_run_" + "_".join(str(p) for p in path)


def sequential_target(target_path: tuple) -> cst.BaseExpression:
    """``self.features`` / ``self.blocks[2]``: the Sequential at ``target_path``."""
    return cst.parse_expression("self." + target_path[0] + "".join(f"[{p!r}]" for p in target_path[1:]))


def sequential_body(container: ContainerAttr, target_path: tuple, method_name: str) -> str:
    """PyTorch-like source of the chain a Sequential runs (translated by the body translator)."""
    target = code_of(sequential_target(target_path))
    if container.elements is None:
        return f"def {method_name}(self, x):\n    for layer in {target}:\n        x = layer(x)\n    return x\n"
    lines = [f"def {method_name}(self, x):"]
    for key in container.elements:
        lines.append(f"    x = {target}[{key!r}](x)")
    lines.append("    return x")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the shared runner
#: the runner key of a layer that is a function (``nn.relu``, a lambda, a ``partial``): never a module instance
FUNCTION_KEY = ""
RUNNER_NAMES = ("run_sequential", "run_sequential_layers", "torch2flax_run_sequential")


def runner_key(build) -> str | None:
    """The class the shared runner's ``isinstance`` test names for a layer built as ``build`` (a LayerBuild)."""
    if build.inline is not None or build.wrap_call is not None or build.flax_expr is None:
        return None
    expr = build.flax_expr
    if isinstance(expr, (cst.Lambda, cst.Name, cst.Attribute)):
        return FUNCTION_KEY
    if isinstance(expr, cst.Call) and isinstance(expr.func, (cst.Name, cst.Attribute)):
        name = code_of(expr.func).strip()
        return FUNCTION_KEY if name in ("partial", "functools.partial") else name
    return None


def element_key(element) -> str | None:
    if isinstance(element, UserModuleRef):
        return element.class_name
    if isinstance(element, LayerAttr):
        return element.runner_key
    return None


def runner_name(info: FileInfo, file: FileContext) -> str:
    """``run_sequential``, or the first of its alternatives the file does not define itself."""
    if info.runner_name is None:
        taken = {*info.custom_gradients.values(), *file.support, *(n.value for n in m.findall(file.resolved.module, m.Name()))}
        info.runner_name = next(n for n in RUNNER_NAMES if n not in taken)
    return info.runner_name


#: how the runner calls a layer that takes PyTorch's layout with no flag: ``layer(x)``
PLAIN_FORM = ("", ())


def runner_source(name: str, table: dict[str, tuple]) -> str:
    """The shared loop over a Sequential's layers; an ``isinstance`` test where layers take different flags
    (or, for a class of the file that runs channels-last, another method: rule S004).

    ``table`` maps each kind of layer to its form ``(method, keywords)``: ``("", ())`` is ``layer(x)``."""
    forms: list[tuple] = []
    for form in table.values():
        if form not in forms:
            forms.append(form)
    uses_train = any(keywords for _, keywords in forms)

    def call(form: tuple) -> str:
        method, keywords = form
        return f"layer{'.' + method if method else ''}(x" + "".join(f", {k}={v}" for k, v in keywords) + ")"

    lines = [f"def {name}(layers, x{', train: bool = False' if uses_train else ''}):"]
    if len(forms) == 1:
        lines += [
            f'    """Runs `layers` in order, as PyTorch\'s nn.Sequential does (rule {CONTAINER_CODE})."""',
            "    for layer in layers:",
            f"        x = {call(forms[0])}",
        ]
    else:
        default = PLAIN_FORM if PLAIN_FORM in forms else forms[-1]
        lines += [
            f'    """Runs `layers` in order, as PyTorch\'s nn.Sequential does (rule {CONTAINER_CODE}).\n\n'
            '    Each kind of layer gets the `train` flag under the keyword it takes.\n    """',
            "    for layer in layers:",
        ]
        branch = "if"
        for form in forms:
            if form == default:
                continue
            classes = [key for key, entry in table.items() if entry == form]
            test = classes[0] if len(classes) == 1 else "(" + ", ".join(classes) + ")"
            lines += [f"        {branch} isinstance(layer, {test}):", f"            x = {call(form)}"]
            branch = "elif"
        lines += ["        else:", f"            x = {call(default)}"]
    lines.append("    return x")
    return "\n".join(lines) + "\n"


def is_class_name(key: str) -> bool:
    return key.rsplit(".", 1)[-1][:1].isupper()


@dataclass
class ElementCall:
    """One translated statement ``x = <target>[index](arg, flag=train...)`` of a Sequential's chain."""

    index: int
    arg: cst.BaseExpression
    keywords: tuple  # ((keyword, "train" | "not train"), ...)
    method: str = ""  # the method called (a channels-last class of the file, rule S004); "" for the call itself

    @property
    def form(self) -> tuple:
        return (self.method, self.keywords)


def element_statement(statement: cst.CSTNode, target: str) -> ElementCall | None:
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name("x"))], value=m.Call())])):
        return None
    call = statement.body[0].value
    func, method = call.func, ""
    if m.matches(func, m.Attribute(value=m.Subscript(), attr=m.Name())):  # `target[0].channels_last(x)` (rule S004)
        func, method = func.value, func.attr.value
    if not (m.matches(func, m.Subscript(slice=[m.SubscriptElement(m.Index(m.Integer()))])) and code_of(func.value) == target):
        return None
    return called_with(call, int(func.slice[0].slice.value.value), method)


def called_with(call: cst.Call, index: int, method: str = "") -> ElementCall | None:
    if not call.args or call.args[0].keyword is not None or call.args[0].star:
        return None
    keywords = []
    for arg in call.args[1:]:
        value = code_of(arg.value).strip()
        if arg.keyword is None or arg.star or value not in ("train", "not train"):
            return None
        keywords.append((arg.keyword.value, value))
    return ElementCall(index, call.args[0].value, tuple(keywords), method)


def loop_statement(statement: cst.CSTNode, target: str) -> ElementCall | None:
    """``for layer in <target>: x = layer(x, ...)`` (a Sequential built at run time)."""
    if not (isinstance(statement, cst.For) and code_of(statement.iter) == target and m.matches(statement.target, m.Name())):
        return None
    body = statement.body.body
    if len(body) != 1 or not m.matches(body[0], m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name("x"))], value=m.Call(func=m.Name(statement.target.value)))])):
        return None
    found = called_with(body[0].body[0].value, 0)
    return found if found is not None and m.matches(found.arg, m.Name("x")) else None


@dataclass
class InlineChain:
    """A Sequential that is one run of the shared runner: each call site calls the runner on it."""

    input: Fact  # the layout its first layer takes
    output: Fact  # the layout its last layer leaves
    train: bool  # whether the runner gets `train`
    notes: list  # what its layers' rules teach (shown at the first call site)


@dataclass
class FoldedChain:
    statements: list
    #: the whole chain is one call of the runner: how its input is laid out (None: it is not)
    whole_input: Fact | None = None
    whole_train: bool = False


def fold_chain(
    file: FileContext, info: FileInfo, container: ContainerAttr, target: str, body: list, output: Fact
) -> FoldedChain:
    """``body`` (a Sequential's translated method body) with each run of two or more layers that take the
    previous layer's output as it is folded into one call of the file's shared runner.

    A layer joins a run only when the runner's ``isinstance`` test gives it exactly the keywords it
    was translated with: its class is known and no other layer of that class takes other keywords.
    """
    name = runner_name(info, file)
    table = dict(info.runner_table)
    calls: dict[int, tuple[ElementCall, list]] = {}  # position in body -> the call and its runner entries
    elements = container.elements
    if elements is not None:
        if list(elements) != list(range(len(elements))):
            return FoldedChain(body)  # string keys (an OrderedDict): written out
        for position, statement in enumerate(body):
            found = element_statement(statement, target)
            if found is None or found.index not in elements:
                continue
            entries = [(element_key(elements[found.index]), found.form)]
            if accepts(table, entries):
                calls[position] = (found, entries)
                table.update(entries)
    elif body:
        found = loop_statement(body[0], target)
        if found is not None:
            entries = [(element_key(kind), found.form) for kind in container.kinds]
            if accepts(table, entries):
                calls[0] = (found, entries)
    folded: list = []
    whole = None
    position = 0
    while position < len(body):
        run = [position]
        while (
            position in calls
            and elements is not None
            and run[-1] + 1 in calls
            and calls[run[-1] + 1][0].index == calls[run[-1]][0].index + 1
            and m.matches(calls[run[-1] + 1][0].arg, m.Name("x"))
        ):
            run.append(run[-1] + 1)
        if position not in calls or (elements is not None and len(run) < 2):
            folded.append(body[position])
            position += 1
            continue
        first, last = calls[run[0]][0].index, calls[run[-1]][0].index
        entire = elements is None or (first == 0 and last == len(elements) - 1)
        keywords = {k for p in run for k in calls[p][0].keywords}
        uses_train = bool(keywords)
        layers = target if entire else f"{target}[{first or ''}:{'' if last == len(elements) - 1 else last + 1}]"
        args = [cst.Arg(cst.parse_expression(layers)), cst.Arg(calls[run[0]][0].arg)]
        if uses_train:
            args.append(cst.Arg(cst.Name("train"), keyword=cst.Name("train")))
        call = cst.Call(func=cst.Name(name), args=args)
        comments = [line for p in run for line in body[p].leading_lines]
        folded.append(cst.SimpleStatementLine(
            body=[cst.Assign(targets=[cst.AssignTarget(cst.Name("x"))], value=call)], leading_lines=comments
        ))
        for p in run:
            info.runner_table.update(calls[p][1])
        if entire:
            whole = (calls[run[0]][0].arg, uses_train, len(folded) - 1)
        position = run[-1] + 1
    if info.runner_table:  # (re)written with every kind of layer it now runs
        file.support[name] = runner_source(name, info.runner_table)
    result = FoldedChain(folded)
    if whole is not None and whole[2] == 0 and len(folded) == 2 and m.matches(folded[1], m.SimpleStatementLine(body=[m.Return()])):
        arg, uses_train, _ = whole
        returned = code_of(folded[1].body[0].value)
        returns_output = returned == code_of(cst.Name("x")) if not output.channels_last else (
            returned == code_of(transpose(cst.Name("x"), "to_first" if output.rank is None else to_channels_first_perm(output.rank)))
        )
        first_element = elements[0] if elements else None
        layout = input_layout(arg, first_element, info)
        if returns_output and layout is not None:
            result.whole_input, result.whole_train = layout, uses_train
    return result


def accepts(table: dict[str, tuple], entries: list) -> bool:
    """Whether the runner can give each (key, keywords) its keywords, alongside what it already runs."""
    for key, form in entries:
        if key is None or (form != PLAIN_FORM and (key == FUNCTION_KEY or not is_class_name(key))):
            return False
        if table.get(key, form) != form:
            return False
    return True


def channels_last_interface(kinds, info: FileInfo) -> tuple[int, int, str, bool] | None:
    """``(rank in, rank out, method, takes train)`` when every kind is a class of the file whose ``forward``
    runs channels-last under one interface (rule S004), else None."""
    interfaces = set()
    for kind in kinds:
        target = info.classes.get(kind.class_name) if isinstance(kind, UserModuleRef) else None
        if target is None or target.channels_last is None:
            return None
        interfaces.add((*target.channels_last, target.channels_last_method, target.needs_train))
    return interfaces.pop() if len(interfaces) == 1 else None


@dataclass(frozen=True)
class PlannedInterface:
    """How the file's classes planned to run channels-last (rule S004) are called: per ``forward`` parameter
    the rank at which the method takes it channels-last (None: as passed), the result's rank, the method,
    and whether the result is a tuple of channels-last arrays."""

    params: tuple[str, ...]
    ranks: tuple[int | None, ...]
    rank_out: int
    method: str
    takes_train: bool
    tuple_out: bool = False

    def bind(self, node: cst.Call) -> list[int | None] | None:
        """Per argument of the call, the rank it is passed at (None: as it is), or None when the call's
        arguments cannot be matched to the parameters by position and name (``*args``, unknown keywords)."""
        ranks, bound = [], set()
        for index, arg in enumerate(node.args):
            if arg.star:
                return None
            name = arg.keyword.value if arg.keyword is not None else (self.params[index] if index < len(self.params) else None)
            if name not in self.params or name in bound:
                return None
            bound.add(name)
            ranks.append(self.ranks[self.params.index(name)])
        return ranks


def planned_interface(kinds, info: FileInfo) -> PlannedInterface | None:
    """The one :class:`PlannedInterface` every kind (a class of the file) is called through, else None."""
    interfaces = set()
    for kind in kinds:
        target = info.classes.get(kind.class_name) if isinstance(kind, UserModuleRef) else None
        if target is None or target.channels_last_method is None:
            return None
        interfaces.add(PlannedInterface(target.forward_params, target.channels_last_inputs, target.channels_last_output,
                                        target.channels_last_method, target.needs_train, target.channels_last_tuple))
    return interfaces.pop() if len(interfaces) == 1 else None


def input_layout(arg: cst.BaseExpression, first, info: FileInfo | None = None) -> Fact | None:
    """The layout a chain's input is converted to before its first layer: ``x`` itself, or ``x`` moved channels-last."""
    if m.matches(arg, m.Name("x")):
        return PLAIN
    interface = channels_last_interface([first], info) if info is not None else None
    if interface is not None:
        expected = transpose(cst.Name("x"), to_channels_last_perm(interface[0]))
        return channels_last(interface[0]) if code_of(arg) == code_of(expected) else None
    if isinstance(first, LayerAttr) and first.call.accepts == "channels_last":
        rank = first.call.rank
        expected = transpose(cst.Name("x"), "to_last" if rank is None else to_channels_last_perm(rank))
        if code_of(arg) == code_of(expected):
            return channels_last(rank) if rank is not None else Fact(channels_last=True)
    return None
