"""Emission shared by elementwise rules of one or two operands (``f(input)`` / ``f(input, other)``).

Not a rule (no ``@register``). An elementwise result keeps a channels-last layout: one operand's
always, two operands' when they share it (a number broadcasts with any layout); otherwise both go
back to PyTorch's layout, so broadcasting pairs the same axes as in PyTorch.
"""

from __future__ import annotations

from translator.rules.base import PLAIN, Emitted
from translator.rules.tensor_ops._common import code, emit, op_name, shared_fact, unsupported


def pointwise(ctx, function: str, operands: int) -> Emitted:
    """``function(input)`` (``operands == 1``) or ``function(input, other)``, reporting ``out=`` and a wrong arity."""
    op = op_name(ctx)
    if not ctx.is_default("out"):
        return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
    if operands == 1:
        if not ctx.is_default("other"):
            return unsupported(ctx, f"`{op}` takes one tensor")
        return emit(f"{function}({code(ctx, 'input', plain=False)})", ctx.fact("input"))
    if ctx.is_default("other"):
        return unsupported(ctx, f"`{op}` needs a second operand")
    fact = shared_fact(ctx, ("input", "other"))
    keep = fact is not None
    return emit(f"{function}({code(ctx, 'input', plain=not keep)}, {code(ctx, 'other', plain=not keep)})", fact or PLAIN)
