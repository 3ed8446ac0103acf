"""Weight-initialisation code in ``__init__`` (rule S017): left out of ``setup``, with a warning.

``nn.init.kaiming_normal_(m.weight)``, ``m.bias.data.zero_()``, a ``for m in
self.modules()`` loop of them, ``self.apply(self._init_weights)``, or ``self.init_weights()``
(a method only ``__init__`` calls, whose body only initialises: the TCN's): PyTorch
overwrites freshly created tensors in place. A Flax module has no tensors
before ``init``, and each layer takes an initialiser instead
(``nn.Dense(..., kernel_init=...)``). The translated model is checked and used
with ported weights, which replace any initial value, so the code is left out
and reported as a warning (the model still translates and checks); a user
training from scratch sets the initialisers by hand.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.context import FileContext

INITIALISATION = "S017"
SELF_APPLY = m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name("apply")), args=[m.Arg()])


def is_init_call(call: cst.BaseExpression, file: FileContext, init_methods: set[str]) -> bool:
    """``nn.init.X_(...)``, ``t.data.normal_(...)`` / ``t.weight.data.zero_()``, or ``self.apply(<init method>)``."""
    if not isinstance(call, cst.Call):
        return False
    qualified = library_name(file.resolved, call.func)
    if qualified is not None and qualified.startswith("torch.nn.init."):
        return True
    if m.matches(call.func, m.Attribute(value=m.Attribute(attr=m.Name("data")), attr=m.Name())) and call.func.attr.value.endswith("_"):
        return True
    if m.matches(call, SELF_APPLY):
        target = call.args[0].value
        return m.matches(target, m.Attribute(value=m.Name("self"), attr=m.Name())) and target.attr.value in init_methods
    if m.matches(call.func, m.Attribute(value=m.Name("self"), attr=m.Name())):  # self.init_weights()
        return call.func.attr.value in init_methods
    return False


def is_initialisation(node: cst.CSTNode, file: FileContext, init_methods: set[str] = frozenset()) -> bool:
    """Whether every simple statement in ``node`` initialises weights in place (or is ``pass``/a docstring)."""
    lines = m.findall(node, m.SimpleStatementLine())
    calls = 0
    for line in lines:
        for small in line.body:
            if isinstance(small, cst.Pass) or m.matches(small, m.Expr(value=m.SimpleString())):
                continue
            if isinstance(small, cst.Expr) and is_init_call(small.value, file, init_methods):
                calls += 1
                continue
            return False
    return calls > 0


SELF_METHOD_CALL = m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name()))


def initialisation_methods(methods: list[cst.FunctionDef], init: cst.FunctionDef | None, file: FileContext) -> set[str]:
    """Methods whose bodies only initialise weights and that ``__init__`` passes to ``self.apply``, or calls
    (``self.init_weights()``) and no other method uses (a method ``forward`` calls stays one)."""
    if init is None:
        return set()
    applied = {
        call.args[0].value.attr.value
        for call in m.findall(init, SELF_APPLY)
        if m.matches(call.args[0].value, m.Attribute(value=m.Name("self"), attr=m.Name()))
    }
    found = {f.name.value for f in methods if f.name.value in applied and is_initialisation(f.body, file)}
    called = {call.func.attr.value for call in m.findall(init, SELF_METHOD_CALL)}
    candidates = {f.name.value: f for f in methods if f.name.value in called and f.name.value not in ("__init__", "forward")}
    while True:  # an initialisation method may call another (self._init_conv() inside self.init_weights())
        more = {
            name for name, method in candidates.items()
            if name not in found and is_initialisation(method.body, file, found | {name})
        }
        if not more:
            break
        found |= more
    used = {
        reference.attr.value
        for method in methods
        if method.name.value != "__init__" and method.name.value not in found
        for reference in m.findall(method, m.Attribute(value=m.Name("self"), attr=m.Name()))
    }
    return {name for name in found if name in applied or name not in used}


def written_weights(node: cst.CSTNode, file: FileContext, methods: dict[str, cst.FunctionDef]) -> list[str]:
    """``<attr>`` of every ``self.<attr>.weight`` the initialisation ``node`` writes (``self.conv1.weight.data
    .normal_(0, 0.01)``, ``nn.init.zeros_(self.fc.weight)``), in the initialisation methods it calls too."""
    found: list[str] = []
    seen: set[str] = set()

    def visit(tree: cst.CSTNode) -> None:
        for call in m.findall(tree, m.Call()):
            if not isinstance(call, cst.Call):
                continue
            target = None
            if m.matches(call.func, m.Attribute(value=m.Attribute(attr=m.Name("data")), attr=m.Name())):
                target = call.func.value.value
            elif call.args and (library_name(file.resolved, call.func) or "").startswith("torch.nn.init."):
                target = call.args[0].value
                if m.matches(target, m.Attribute(attr=m.Name("data"))):
                    target = target.value
            if m.matches(target, m.Attribute(value=m.Attribute(value=m.Name("self"), attr=m.Name()), attr=m.Name("weight"))):
                name = target.value.attr.value
                if name not in found:
                    found.append(name)
            if m.matches(call, SELF_METHOD_CALL) and call.func.attr.value in methods and call.func.attr.value not in seen:
                seen.add(call.func.attr.value)
                visit(methods[call.func.attr.value].body)

    visit(node)
    return found


def report_initialisation(node: cst.CSTNode, file: FileContext, weight_normed: list[str] = ()) -> None:
    """S017 at ``node``; ``weight_normed``: the attributes it writes the ``weight`` of that ``weight_norm`` computes
    (rule L060), which PyTorch itself recomputes from g and v before the next call."""
    from translator.diagnostics import Severity
    from translator.rewrite.context import code_of

    first_line = code_of(node).strip().splitlines()[0]
    message = (
        f"weight initialisation left out (`{first_line}`): Flax layers take initialisers (`kernel_init=`), and "
        "ported weights replace initial values; set the initialisers by hand to train from scratch"
    )
    if weight_normed:
        names = ", ".join(f"`self.{name}.weight`" for name in weight_normed)
        message += (
            f". Writing {names} has no effect even in PyTorch: weight_norm computes that weight from weight_g and "
            "weight_v (g * v / ||v||) before each call, overwriting what was written, and g and v keep their values"
        )
    file.report(INITIALISATION, message, node, Severity.WARNING)
