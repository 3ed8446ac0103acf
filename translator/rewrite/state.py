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

from translator.rewrite.body import BodyTranslator
from translator.rewrite.context import FileContext, code_of
from translator.rewrite.model import ClassInfo, FileInfo
from translator.rewrite.names import library_name
from translator.rules.base import PLAIN

PARAMETER = "S008"
BUFFER = "S009"
RANDOM_INIT = {"torch.randn": "jax.random.normal", "torch.rand": "jax.random.uniform"}
PARAMETER_CLASSES = ("torch.nn.Parameter", "torch.nn.parameter.Parameter")


def is_parameter_call(file: FileContext, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and library_name(file.resolved, node.func) in PARAMETER_CLASSES


def initial_value(node: cst.BaseExpression, file: FileContext, info: FileInfo, cls: ClassInfo) -> tuple[cst.BaseExpression, bool]:
    """The translated initial value, and whether it draws random numbers (then it uses ``key``)."""
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
    translator = BodyTranslator(file, info, cls, {name: PLAIN for name in placeholders})
    value = translator.plain(node)
    for name, replacement in placeholders.items():
        value = value.deep_replace(next(iter(m.findall(value, m.Name(name)))), replacement)
    return value, bool(placeholders)


def parameter_statement(attr: str, call: cst.Call, file: FileContext, info: FileInfo, cls: ClassInfo) -> cst.BaseSmallStatement:
    """``self.<attr> = self.param("<attr>", lambda key: <initial value>)``."""
    if not call.args:
        file.report(PARAMETER, "nn.Parameter() without a value", call)
        return cst.Assign([cst.AssignTarget(cst.parse_expression(f"self.{attr}"))], call)
    if any(a.keyword and a.keyword.value == "requires_grad" for a in call.args):
        file.report(PARAMETER, "`requires_grad=` on a parameter (a frozen parameter) is not translated yet", call)
    value, _ = initial_value(call.args[0].value, file, info, cls)
    cls.tensors.add(attr)
    file.note(PARAMETER, "nn.Parameter -> self.param(name, init): Flax creates it from a key at init; its value is ported")
    init = cst.parse_expression(f"lambda key: {code_of(value)}")
    return cst.Assign(
        [cst.AssignTarget(cst.parse_expression(f"self.{attr}"))],
        cst.Call(func=cst.parse_expression("self.param"), args=[cst.Arg(cst.SimpleString(f'"{attr}"')), cst.Arg(init)]),
    )


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
