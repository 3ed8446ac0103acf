"""Weight-initialisation code in ``__init__`` (rule S017): left out of ``setup``, with a warning.

``nn.init.kaiming_normal_(m.weight)``, ``m.bias.data.zero_()``, a ``for m in
self.modules()`` loop of them, or ``self.apply(self._init_weights)``: PyTorch
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


def initialisation_methods(methods: list[cst.FunctionDef], init: cst.FunctionDef | None, file: FileContext) -> set[str]:
    """Methods ``__init__`` passes to ``self.apply`` whose bodies only initialise weights."""
    if init is None:
        return set()
    applied = {
        call.args[0].value.attr.value
        for call in m.findall(init, SELF_APPLY)
        if m.matches(call.args[0].value, m.Attribute(value=m.Name("self"), attr=m.Name()))
    }
    return {f.name.value for f in methods if f.name.value in applied and is_initialisation(f.body, file)}


def report_initialisation(node: cst.CSTNode, file: FileContext) -> None:
    from translator.diagnostics import Severity
    from translator.rewrite.context import code_of

    first_line = code_of(node).strip().splitlines()[0]
    file.report(
        INITIALISATION,
        f"weight initialisation left out (`{first_line}`): Flax layers take initialisers (`kernel_init=`), and "
        "ported weights replace initial values; set the initialisers by hand to train from scratch",
        node,
        Severity.WARNING,
    )
