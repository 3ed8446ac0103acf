"""What the parts of :class:`~translator.rewrite.body.BodyTranslator` share: the codes they report and
note under, the module hooks they refuse, and the element of a container known only at run time.

No translator state lives here; each part imports this module, never another part.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from translator.rewrite.model import ContainerAttr

UNSUPPORTED = "X001"  # a construct with no rule
MODULE_STATE = "X003"  # mutation of module state inside forward
LAYOUT = "S004"  # the layout rule (translator.rules.structure.layout)
IN_PLACE = "S011"  # in-place updates rewritten to new bindings (translator.rules.structure.in_place)
SHARED_MUTATION = "X006"  # an in-place update other names would see
NO_GRAD = "S012"  # torch.no_grad() blocks
OPTIONAL_LAYER = "S015"  # a layer or nn.Identity() depending on a branch of __init__

#: module hooks: they change what a module computes from outside its code
HOOKS = frozenset({
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook",
    "register_full_backward_pre_hook", "register_hook", "register_module_forward_hook",
})


@dataclass(frozen=True)
class AnyElement:
    """An element of a container that may be any of ``kinds`` (index or loop only known at run time)."""

    kinds: tuple


def container_kinds(container: ContainerAttr) -> tuple:
    if container.elements is not None:
        return tuple(container.elements.values())
    return tuple(container.kinds)


def integer_literal(node: cst.BaseExpression) -> int | None:
    """``1`` / ``-1`` as an int, else None."""
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None
