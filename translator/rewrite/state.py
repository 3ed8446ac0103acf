"""Module state in ``__init__``: ``nn.Parameter(...)`` and ``register_buffer(...)``.

``self.w = nn.Parameter(init)`` becomes ``self.w = self.param("w", lambda key: init)``:
Flax creates parameters from an initialiser and a random key, so ``torch.randn``
inside the initial value becomes ``jax.random.normal(key, ...)``.  A persistent
buffer becomes a variable in the ``buffers`` collection (it is in the state dict,
so it is ported); a non-persistent one is a constant computed in ``setup``.
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
    if persistent:
        file.note(BUFFER, "register_buffer -> a variable in the 'buffers' collection: part of the state, ported, never trained")
        return cst.Assign([target], cst.parse_expression(f'self.variable("buffers", "{name}", lambda: {code_of(value)}).value'))
    file.note(BUFFER, "non-persistent buffer -> a constant computed in setup (it is not in the state dict)")
    return cst.Assign([target], value)
