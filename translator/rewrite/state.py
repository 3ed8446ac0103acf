"""Module state in ``__init__``: ``nn.Parameter(...)`` and ``register_buffer(...)``.

``self.w = nn.Parameter(init)`` becomes ``self.w = self.param("w", lambda key: init)``:
Flax creates parameters from an initialiser and a random key, so ``torch.randn``
inside the initial value becomes ``jax.random.normal(key, ...)``.  A persistent
buffer becomes a variable in the ``buffers`` collection (it is in the state dict,
so it is ported), unless it is a constant: its value is computed from the constructor's
arguments by torch functions that draw nothing, and the class never writes it (a causal
mask).  A constant, and a non-persistent buffer, is computed in ``setup``; the port
checks a constant's checkpoint value against it instead of storing it.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.body import BodyTranslator
from translator.rewrite.context import FileContext, code_of
from translator.rewrite.model import ClassInfo, FileInfo
from translator.rules.base import PLAIN

PARAMETER = "S008"
BUFFER = "S009"
RANDOM_INIT = {"torch.randn": "jax.random.normal", "torch.rand": "jax.random.uniform"}
PARAMETER_CLASSES = ("torch.nn.Parameter", "torch.nn.parameter.Parameter")
PARAMETER_LIST = ("torch.nn.ParameterList", "torch.nn.modules.container.ParameterList")
PARAMETER_DICT = ("torch.nn.ParameterDict", "torch.nn.modules.container.ParameterDict")


def is_parameter_call(file: FileContext, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and library_name(file.resolved, node.func) in PARAMETER_CLASSES


def initial_value(node: cst.BaseExpression, file: FileContext, info: FileInfo, cls: ClassInfo,
                  names: tuple[str, ...] = ()) -> tuple[cst.BaseExpression, bool]:
    """The translated initial value, and whether it draws random numbers (then it uses ``key``);
    ``names``: locals it may read (a comprehension's loop variables)."""
    randoms = [c for c in m.findall(node, m.Call()) if library_name(file.resolved, c.func) in RANDOM_INIT]
    if len(randoms) > 1:
        file.report(PARAMETER, "an initial value with several random draws is not translated yet", node)
    placeholders = {}
    for index, call in enumerate(randoms[:1]):
        name = f"__random_{index}__"
        shape = [a.value for a in call.args if a.keyword is None]
        if len(shape) == 1 and not isinstance(shape[0], cst.Integer):
            shape_code = code_of(shape[0])  # randn((a, b)) or randn(size)
        else:
            shape_code = f"({', '.join(code_of(s) for s in shape)}{',' if len(shape) == 1 else ''})"
        placeholders[name] = cst.parse_expression(f"{RANDOM_INIT[library_name(file.resolved, call.func)]}(key, {shape_code})")
        node = node.deep_replace(call, cst.Name(name))
    translator = BodyTranslator(file, info, cls, {name: PLAIN for name in [*placeholders, *names]})
    value = translator.plain(node)
    for name, replacement in placeholders.items():
        value = value.deep_replace(next(iter(m.findall(value, m.Name(name)))), replacement)
    return value, bool(placeholders)


def parameter_statement(attr: str, call: cst.Call, file: FileContext, info: FileInfo, cls: ClassInfo) -> cst.BaseSmallStatement:
    """``self.<attr> = self.param("<attr>", lambda key: <initial value>)``."""
    if not call.args:
        file.report(PARAMETER, "nn.Parameter() without a value", call)
        return cst.Assign([cst.AssignTarget(cst.parse_expression(f"self.{attr}"))], call)
    frozen = next((a.value for a in call.args if a.keyword and a.keyword.value == "requires_grad"), None)
    if frozen is not None and not m.matches(frozen, m.Name("True") | m.Name("False")):
        file.report(PARAMETER, "`requires_grad=` on a parameter must be a constant", call)
    value, _ = initial_value(call.args[0].value, file, info, cls)
    cls.tensors.add(attr)
    file.note(PARAMETER, "nn.Parameter -> self.param(name, init): Flax creates it from a key at init; its value is ported")
    declared = f'self.param("{attr}", lambda key: {code_of(value)})'
    if m.matches(frozen, m.Name("False")):
        file.note(PARAMETER, "requires_grad=False -> jax.lax.stop_gradient(self.param(...)): ported like any parameter, "
                             "its gradient is zero (mask it out of the optimizer, e.g. optax.masked, to keep it fixed "
                             "under weight decay)")
        declared = f"jax.lax.stop_gradient({declared})"
    return cst.Assign([cst.AssignTarget(cst.parse_expression(f"self.{attr}"))], cst.parse_expression(declared))


def is_parameter_collection_call(file: FileContext, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and library_name(file.resolved, node.func) in PARAMETER_LIST + PARAMETER_DICT


def parameter_collection_statement(attr: str, call: cst.Call, file: FileContext, info: FileInfo,
                                   cls: ClassInfo) -> cst.BaseSmallStatement:
    """``nn.ParameterList([nn.Parameter(a), ...])`` -> ``[self.param("<attr>_0", lambda key: a), ...]``, and
    ``nn.ParameterDict({"k": nn.Parameter(a)})`` -> ``{"k": self.param("<attr>_k", ...)}``: a list or dict
    of arrays in setup, each parameter named as Flax names a container's elements (``<attr>_<key>``),
    which is where the port puts PyTorch's ``<attr>.<key>``.  A comprehension of parameters becomes a
    comprehension of ``self.param`` calls; anything else (appended later, built elsewhere) is reported."""
    argument = call.args[0].value if len(call.args) == 1 and call.args[0].keyword is None else None
    unchanged = cst.Assign([cst.AssignTarget(cst.parse_expression(f"self.{attr}"))], call)

    def declared(key_code: str, value: cst.BaseExpression, names: tuple[str, ...] = ()) -> str | None:
        if not is_parameter_call(file, value) or not value.args:
            return None
        init, _ = initial_value(value.args[0].value, file, info, cls, names)
        captured = "".join(f", {n}={n}" for n in names)  # the loop's value now, not when init runs
        return f"self.param({key_code}, lambda key{captured}: {code_of(init)})"

    text = None
    if isinstance(argument, cst.List):
        items = [declared(f'"{attr}_{i}"', e.value) for i, e in enumerate(argument.elements)]
        text = None if None in items else f"[{', '.join(items)}]"
    elif isinstance(argument, cst.Dict) and all(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
                                                for e in argument.elements):
        items = [(e.key.evaluated_value, declared(f'"{attr}_{e.key.evaluated_value}"', e.value)) for e in argument.elements]
        text = None if any(v is None for _, v in items) else "{" + ", ".join(f"{k!r}: {v}" for k, v in items) + "}"
    elif isinstance(argument, cst.ListComp) and argument.for_in.inner_for_in is None and not argument.for_in.ifs:
        loop = argument.for_in
        names = tuple(dict.fromkeys(n.value for n in m.findall(loop.target, m.Name()) if n.value != "_"))
        item = declared(f'f"{attr}_{{_index}}"', argument.elt, names)
        if item is not None:
            text = f"[{item} for _index, {code_of(loop.target)} in enumerate({code_of(loop.iter)})]"
    elif argument is None and not call.args:
        text = "[]" if library_name(file.resolved, call.func) in PARAMETER_LIST else "{}"
    if text is None:
        file.report(PARAMETER, "a ParameterList/ParameterDict is translated from a list, dict or comprehension of "
                               "nn.Parameter(...) given to its constructor; this one is not", call)
        return unchanged
    cls.tensors.add(attr)
    file.note(PARAMETER, "ParameterList/Dict -> a list/dict of self.param(...) in setup, named <attr>_<index> as Flax names "
                         "a container's elements; each is ported from <attr>.<index>")
    return cst.Assign([cst.AssignTarget(cst.parse_expression(f"self.{attr}"))], cst.parse_expression(text))


def buffer_statement(call: cst.Call, file: FileContext, info: FileInfo, cls: ClassInfo) -> cst.BaseSmallStatement | None:
    """``self.register_buffer("name", value, persistent=...)`` -> a ``buffers`` variable or a constant."""
    args = {a.keyword.value if a.keyword else i: a.value for i, a in enumerate(call.args)}
    name_node = args.get(0, args.get("name"))
    value_node = args.get(1, args.get("tensor"))
    persistent_node = args.get(2, args.get("persistent"))
    if not isinstance(name_node, cst.SimpleString) or value_node is None:
        file.report(BUFFER, "register_buffer with a non-constant name is not translated yet", call)
        return None
    name = name_node.evaluated_value
    persistent = persistent_node is None or m.matches(persistent_node, m.Name("True"))
    if persistent_node is not None and not m.matches(persistent_node, m.Name("True") | m.Name("False")):
        file.report(BUFFER, "`persistent=` must be a constant", call)
    value, random = initial_value(value_node, file, info, cls)
    cls.tensors.add(name)
    target = cst.AssignTarget(cst.parse_expression(f"self.{name}"))
    if random:
        file.report(BUFFER, "a buffer with a random initial value is not translated yet", call)
    if persistent and file.buffer_values and constant_value(value_node, file, cls) and not written_by_class(name, file, cls):
        cls.constant_buffers.add(name)
        file.note(BUFFER, "persistent buffer with a constant value (from constructor arguments, never written) -> "
                          "computed in setup, not a variable; the port checks the checkpoint's value instead of storing it")
        return cst.Assign([target], value)
    if persistent:
        file.note(BUFFER, "register_buffer -> a variable in the 'buffers' collection: part of the state, ported, never trained")
        return cst.Assign([target], cst.parse_expression(f'self.variable("buffers", "{name}", lambda: {code_of(value)}).value'))
    file.note(BUFFER, "non-persistent buffer -> a constant computed in setup (it is not in the state dict)")
    return cst.Assign([target], value)


#: torch functions whose result is not a function of their arguments (draws, uninitialised memory)
NOT_CONSTANT = ("torch.empty", "torch.empty_like", "torch.empty_strided", "torch.rand", "torch.rand_like",
                "torch.randn", "torch.randn_like", "torch.randint", "torch.randint_like", "torch.randperm",
                "torch.normal", "torch.bernoulli", "torch.multinomial", "torch.poisson", "torch.load",
                "torch.from_numpy")


def constant_value(node: cst.BaseExpression, file: FileContext, cls: ClassInfo) -> bool:
    """Whether a buffer's initial value is a constant of the constructor's arguments: it calls torch
    functions (and tensor methods) only, none that draws or reads memory, none in place, and names
    nothing but libraries, builtins and constructor arguments (a local may hold anything)."""
    calls = list(m.findall(node, m.Call()))
    if not calls:
        return False  # a bare name or attribute: a tensor passed in or computed earlier, state-like
    for call in calls:
        qualified = library_name(file.resolved, call.func)
        if qualified is not None:
            if not qualified.startswith("torch.") and qualified.split(".")[0] not in BUILTIN_NAMES:
                return False
            if qualified in NOT_CONSTANT:
                return False
        elif not isinstance(call.func, cst.Attribute) or call.func.attr.value.endswith("_"):
            return False  # a user function, or an in-place method
    keywords = {id(a.keyword) for a in m.findall(node, m.Arg()) if a.keyword is not None}
    heads = [n for n in m.findall(node, m.Name()) if not is_attribute_name(node, n) and id(n) not in keywords]
    for name in heads:
        if name.value in cls.fields or name.value in BUILTIN_NAMES:
            continue
        if library_name(file.resolved, name) is None:
            return False
    return not m.findall(node, m.Attribute(value=m.Name("self")))


BUILTIN_NAMES = frozenset({"int", "float", "bool", "len", "range", "min", "max", "abs", "round", "sum", "tuple",
                           "list", "math", "True", "False", "None"})


def is_attribute_name(root: cst.CSTNode, name: cst.Name) -> bool:
    """Whether ``name`` is the ``attr`` of an attribute access (``x.view``), not a name read on its own."""
    return any(a.attr is name for a in m.findall(root, m.Attribute()))


def written_by_class(attr: str, file: FileContext, cls: ClassInfo) -> bool:
    """Whether any method of ``cls`` or of a subclass in the file writes ``self.<attr>``: assigns it (or into it,
    or its ``.data``), calls an in-place method on it, or passes it to a call that may write it
    (``torch.nn.init.zeros_(self.x)``, ``out=``, a function or method of the file)."""
    own = m.Attribute(value=m.Name("self"), attr=m.Name(attr))
    every = list(m.findall(file.resolved.module, m.ClassDef()))
    names = {cls.name}
    while True:  # the class and its subclasses in the file, at any depth
        more = {c.name.value for c in every if any(isinstance(b.value, cst.Name) and b.value.value in names for b in c.bases)}
        if more <= names:
            break
        names |= more
    classes = [c for c in every if c.name.value in names]
    if not any(c.name.value == cls.name for c in classes):
        return True
    return any(writes_attribute(node, own, file) for node in classes)


def writes_attribute(node: cst.ClassDef, own: m.Attribute, file: FileContext) -> bool:
    """Whether the class ``node`` (its own methods; a subclass in the file is asked separately) writes ``own``."""
    rooted = m.Attribute(value=own) | m.Subscript(value=own) | own
    for target in m.findall(node, m.AssignTarget() | m.AugAssign() | m.AnnAssign()):
        written = target.target
        while isinstance(written, (cst.Attribute, cst.Subscript)):
            if m.matches(written, own):
                return True
            written = written.value
        if m.matches(target.target, rooted):
            return True
    for call in m.findall(node, m.Call()):
        func = call.func
        receiver = func.value if isinstance(func, cst.Attribute) else None
        while isinstance(receiver, (cst.Call, cst.Attribute, cst.Subscript)):
            if m.matches(receiver, own):
                break
            receiver = receiver.func if isinstance(receiver, cst.Call) else receiver.value
        if receiver is not None and m.matches(receiver, own) and isinstance(func, cst.Attribute) and (
            func.attr.value.endswith("_") or func.attr.value in ("data", "set_")
        ):
            return True
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        reads_it = any(m.matches(a.value, own) for a in call.args)
        if reads_it and (str(name).endswith("_") or any(a.keyword and a.keyword.value == "out" for a in call.args)):
            return True
        users = m.Name() | m.Attribute(value=m.Name("self"))  # a function of the file, a method of the class
        if reads_it and library_name(file.resolved, func) is None and m.matches(func, users):
            return True  # handed to code that may write into it
    return bool(m.findall(node, m.Attribute(value=own, attr=m.Name("data"))))
