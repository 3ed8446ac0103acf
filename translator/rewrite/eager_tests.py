"""An ``if`` test that eager PyTorch decides statically (rule T061): ``torch.jit.is_scripting()`` and its kin are
False when the model runs eagerly, so ``if self.ckpt and not torch.jit.is_scripting():`` is ``if self.ckpt:`` and
``if torch.jit.is_scripting(): ...`` keeps only its ``else``.  Only truthiness is read (an ``if`` or ``elif``
test), so ``a and False`` is False whatever ``a`` is."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rules.tensor_ops.scripting_queries import EAGER_FALSE


def eager_test(test: cst.BaseExpression, resolved) -> bool | cst.BaseExpression:
    """``test`` with the eager queries in it decided: True or False when that decides it, else the expression
    without them (``test`` itself when it holds none)."""
    if isinstance(test, cst.Call) and library_name(resolved, test.func) in EAGER_FALSE:
        return False
    if m.matches(test, m.Name("True") | m.Name("False")):
        return test.value == "True"
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = eager_test(test.expression, resolved)
        if isinstance(inner, bool):
            return not inner
        return test if inner is test.expression else test.with_changes(expression=inner)
    if isinstance(test, cst.BooleanOperation):
        left, right = eager_test(test.left, resolved), eager_test(test.right, resolved)
        absorbing = isinstance(test.operator, cst.Or)  # True absorbs `or`, False absorbs `and`
        if left is absorbing or right is absorbing:
            return absorbing
        if isinstance(left, bool):  # the neutral value: the other side decides
            return right
        if isinstance(right, bool):
            return left
        if left is test.left and right is test.right:
            return test
        return test.with_changes(left=left, right=right)
    return test


def decided_branch(node: cst.If, resolved) -> list[cst.BaseStatement] | cst.If | None:
    """What eager PyTorch runs for ``node``: the statements of the branch it takes when its test is decided
    (its body, or what its ``else`` / ``elif`` runs); ``node`` with its tests shortened and decided ``elif``
    branches folded when only those are; None when no test of the chain holds a query."""
    decided = eager_test(node.test, resolved)
    if decided is True:
        return list(node.body.body)
    if decided is False:
        return taken_else(node.orelse, resolved)
    orelse = node.orelse
    if isinstance(orelse, cst.If):
        rest = decided_branch(orelse, resolved)
        if isinstance(rest, list):
            orelse = cst.Else(body=cst.IndentedBlock(body=rest)) if rest else None
        elif rest is not None:
            orelse = rest
    if decided is node.test and orelse is node.orelse:
        return None
    return node.with_changes(test=decided, orelse=orelse)


def taken_else(orelse: cst.If | cst.Else | None, resolved) -> list[cst.BaseStatement]:
    """The statements an ``if`` whose test is False runs: its ``elif`` chain (decided in turn) or ``else`` body."""
    if isinstance(orelse, cst.If):
        rest = decided_branch(orelse, resolved)
        if rest is None:
            return [orelse.with_changes(leading_lines=())]
        return rest if isinstance(rest, list) else [rest]
    return list(orelse.body.body) if isinstance(orelse, cst.Else) else []
