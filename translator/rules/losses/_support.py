"""What the loss rules share: PyTorch's ``reduction`` argument, and a loss as a pure callable.

Not a rule (no ``@register``).  A loss *module* (``self.criterion = nn.CrossEntropyLoss(...)``)
becomes, in ``setup``, the pure callable ``(input, target) -> loss`` that its functional form
calls: the support function itself, or a ``partial`` of it fixing the constructor's arguments.
A call ``self.criterion(pred, y)`` then stays a call (inputs in PyTorch's layout), and the
training-script translator (``translator.training.losses``) emits the same expression for a
module-level ``criterion = nn.CrossEntropyLoss(...)``.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import CallSpec, LayerBuild, NotLiteral, Rule, TensorMapping
from translator.weights.layouts import IDENTITY

REDUCTIONS = ("mean", "sum", "none")
LEGACY_REDUCTION = (
    "`size_average`/`reduce` are deprecated (PyTorch turns them into `reduction`): "
    "write `reduction='mean'|'sum'|'none'`"
)

#: ``torch_loss_reduction``: the reduction every elementwise support loss ends with
REDUCTION_NAME = "torch_loss_reduction"
REDUCTION_SUPPORT = '''
def torch_loss_reduction(loss, reduction):
    """PyTorch's `reduction` of an elementwise loss: 'mean' over every element, 'sum', or 'none'."""
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss
'''


def read_reduction(ctx, allowed: tuple[str, ...] = REDUCTIONS) -> str | None:
    """The constant ``reduction`` of a loss call or constructor, or None once the problem is reported.

    The legacy ``size_average``/``reduce`` arguments are reported, never guessed; a
    ``reduction`` that is not a constant is reported (it decides the result's shape).
    """
    if not (ctx.is_default("size_average") and ctx.is_default("reduce")):
        ctx.unsupported(LEGACY_REDUCTION)
        return None
    reduction = literal_or_none(ctx, "reduction")
    if reduction not in allowed:
        choices = ", ".join(repr(r) for r in allowed)
        ctx.unsupported(f"`reduction` must be one of the constants {choices}" + ("" if reduction is NotLiteral else f", not {reduction!r}"))
        return None
    return reduction


def constant(ctx, name: str) -> bool:
    """True when argument ``name`` is a constant; reports it otherwise (it decides which terms are computed)."""
    if literal_or_none(ctx, name) is NotLiteral:
        ctx.unsupported(f"`{name}` must be a constant")
        return False
    return True


def keywords(ctx, names: tuple[str, ...], tensor_code=None) -> list[str]:
    """``name=<code>`` for each argument given (in ``names`` order); ``tensor_code(name)`` reads a tensor one.

    ``tensor_code`` is the layout-aware reader of a call in ``forward`` (``ctx.plain``); a constructor's
    tensor arguments are already translated (``Rule.tensor_arguments``) and read as they are.
    """
    read = tensor_code or (lambda name: code_of(ctx.expr(name)))
    return [f"{name}={read(name)}" for name in names if not ctx.is_default(name)]


def callable_code(function: str, fixed: list[str]) -> str:
    """The loss as a pure callable ``(input, target, ...) -> loss``: ``function`` or a partial of it."""
    return f"partial({function}, {', '.join(fixed)})" if fixed else function


def loss_layer(callable_source: str, support: tuple[tuple[str, str], ...], note: str) -> LayerBuild:
    """The :class:`LayerBuild` of a loss module: ``setup`` holds the callable; calls take PyTorch's layout."""
    return LayerBuild(cst.parse_expression(callable_source), CallSpec(accepts="plain", produces="plain"), notes=(note,), support=support)


def failed_layer() -> LayerBuild:
    """What ``build_layer`` returns after ``ctx.unsupported``: the rewriter keeps the original line."""
    return LayerBuild(None, CallSpec())


def constant_tensors(module, names: tuple[str, ...], code: str) -> list[TensorMapping]:
    """A loss module's tensor buffers (``weight``, ``pos_weight``): in its state dict, not in Flax's.

    The translation computes them in ``setup`` from the constructor's argument (they are not
    trained), so the port drops them, saying why.
    """
    return [
        TensorMapping(name, (), IDENTITY, extra={"reason": f"{code}: a constant of the translation (computed in setup from the constructor's argument)"})
        for name in names
        if getattr(module, name, None) is not None
    ]


class SupportFunctionLoss(Rule):
    """A loss whose functional form and module both call one support function (BCE, KL divergence...).

    A subclass names the function (``support_name``), the definitions it needs (``supports``), the
    operands of the functional form (``operands``), the module's tensor buffers (``constant_tensor_names``,
    computed in ``setup`` and dropped from the port) and the note a module teaches (``layer_note``), and
    implements :meth:`arguments`: the fixed keyword arguments, or None after reporting.
    """

    support_name: ClassVar[str]
    supports: ClassVar[tuple[tuple[str, str], ...]]
    operands: ClassVar[tuple[str, ...]] = ("input", "target")
    constant_tensor_names: ClassVar[tuple[str, ...]] = ()
    layer_note: ClassVar[str]

    def arguments(self, ctx, tensor_code=None) -> list[str] | None:  # pragma: no cover - hook
        raise NotImplementedError

    def emit_call(self, ctx):
        from translator.rules.tensor_ops._common import code, emit

        fixed = self.arguments(ctx, lambda name: code(ctx, name))
        if fixed is None:
            return emit("None")  # reported
        for name, source in self.supports:
            ctx.support(name, source)
        return emit(f"{self.support_name}({', '.join([*(code(ctx, o) for o in self.operands), *fixed])})")

    def build_layer(self, ctx):
        fixed = self.arguments(ctx)
        if fixed is None:
            return failed_layer()
        return loss_layer(callable_code(self.support_name, fixed), self.supports, self.layer_note)

    def weight_layout(self, module):
        return constant_tensors(module, self.constant_tensor_names, self.code)
