"""What the training rules share: their base class, their test cases, and code-building helpers.

Not a rule (no ``@register``). A training rule reads its bound constructor arguments through a
:class:`TrainingContext` (a :class:`~translator.rules.base.CallContext` that can also translate the
schedulers nested in a ``SequentialLR``) and returns optax code as CST expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from translator.rules._emit import code_of
from translator.rules.base import CallContext, NotLiteral, Rule, ScheduleBuild

#: the rule code reported for an optimizer, scheduler or parameter spelling no training rule reads
UNKNOWN = "O000"


@dataclass(frozen=True)
class OptimizerCase:
    """One optimizer configuration for the step-by-step test (``tests/training``).

    ``torch``: the constructor as a script writes it, over ``model.parameters()``
    (``optim.Adam(model.parameters(), lr=0.01, amsgrad=True)``). ``tolerance``: the largest parameter
    difference allowed after ``steps`` float64 steps.
    """

    torch: str
    steps: int = 20
    tolerance: float = 1e-12
    #: a ``clip_grad_norm_``/``clip_grad_value_`` call made between ``backward()`` and ``step()``
    clip: str | None = None


@dataclass(frozen=True)
class ScheduleCase:
    """One scheduler configuration: ``torch`` builds it over ``optimizer`` (an optimizer named ``optimizer``
    with ``lr=base_lr``); the learning rate is compared for ``epochs`` ``scheduler.step()`` calls,
    each after ``steps_per_epoch`` updates (None: stepped after every update)."""

    torch: str
    base_lr: float
    epochs: int
    steps_per_epoch: int | None = 3
    optimizer: str = "optim.SGD(model.parameters(), lr={base_lr}, momentum=0.9)"


class TrainingRule(Rule):
    """A rule of the training family: it claims ``torch_optimizers``/``torch_schedulers`` (or
    ``torch_gradient_functions``) and its ``cases()`` draw :class:`OptimizerCase`/:class:`ScheduleCase`.

    ``flagged_calls``: constructor calls it must report with its code rather than translate.
    """

    flagged_calls: ClassVar[tuple[str, ...]] = ()
    #: functions of a training step that act on the gradients (``clip_grad_norm_``): not ``torch_functions``,
    #: which the model translator looks up in ``forward`` and module-level functions
    torch_gradient_functions: ClassVar[tuple[str, ...]] = ()


class TrainingContext(CallContext):
    """What a training rule may ask besides the bound arguments (implemented in ``translator.training.optim``)."""

    def schedule_of(self, expr: cst.BaseExpression, steps_per_epoch: cst.BaseExpression | None) -> ScheduleBuild | None:  # pragma: no cover
        """The schedule of a scheduler constructed inside this one (``SequentialLR``'s list), or None (reported)."""
        raise NotImplementedError


def src(ctx: CallContext, name: str) -> str:
    """The bound argument (or the torch default) as source text."""
    return code_of(ctx.expr(name))


def literal(ctx: CallContext, name: str):
    """The argument's Python value, or :class:`NotLiteral` (the class) when it is an expression."""
    try:
        return ctx.literal(name)
    except NotLiteral:
        return NotLiteral


def is_zero(ctx: CallContext, name: str) -> bool:
    """The argument is left at, or written as, zero: the term it controls is dropped."""
    return ctx.is_default(name) and not ctx.signature.parameters[name].default or literal(ctx, name) in (0, 0.0)


def flag(ctx: CallContext, name: str) -> bool | None:
    """A boolean argument's value; None (reported) when it is not a constant: it decides the code's shape."""
    value = literal(ctx, name)
    if value is NotLiteral or not isinstance(value, bool):
        ctx.unsupported(f"`{name}=` must be the constant True or False (it decides the optax transformation)")
        return None
    return value


def pair(ctx: CallContext, name: str) -> tuple[str, str]:
    """A ``(b1, b2)`` argument as two source texts: the literal's entries, or ``betas[0]``/``betas[1]``."""
    value = ctx.expr(name)
    if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == 2:
        return code_of(value.elements[0].value), code_of(value.elements[1].value)
    text = code_of(value)
    return f"{text}[0]", f"{text}[1]"


def chain(parts: Sequence[str]) -> str:
    """``optax.chain(*parts)``, or the one part alone."""
    return parts[0] if len(parts) == 1 else f"optax.chain({', '.join(parts)})"


def keywords(pairs: Sequence[tuple[str, str | None]]) -> str:
    """``, k=v`` for each pair whose value is not None."""
    return "".join(f", {k}={v}" for k, v in pairs if v is not None)


def written(ctx: CallContext, name: str) -> str | None:
    """The argument's source if the call wrote it, else None (the optax default is torch's)."""
    return None if ctx.is_default(name) else src(ctx, name)


def gradient_prefix(ctx: CallContext) -> list[str]:
    """Transformations torch applies to the gradient before its algorithm: ``maximize`` negates it."""
    if "maximize" not in ctx.signature.parameters or ctx.is_default("maximize"):
        return []
    maximize = flag(ctx, "maximize")
    return ["optax.scale(-1.0)"] if maximize else []


def l2_decay(ctx: CallContext) -> list[str]:
    """``weight_decay`` as torch's Adam/SGD/RMSprop/Adagrad apply it: ``wd * param`` added to the gradient,
    first in the chain (before momentum or moments)."""
    return [] if is_zero(ctx, "weight_decay") else [f"optax.add_decayed_weights({src(ctx, 'weight_decay')})"]


def decayed_direction(ctx: CallContext, direction: str) -> list[str]:
    """The chain before the learning rate: torch's L2 weight decay added to the gradient before ``direction``
    (the default), or decayed weights added after it when ``decoupled_weight_decay=True`` (NAdamW, RAdamW)."""
    decoupled = False if ctx.is_default("decoupled_weight_decay") else flag(ctx, "decoupled_weight_decay")
    if decoupled:
        decay = [] if is_zero(ctx, "weight_decay") else [f"optax.add_decayed_weights({src(ctx, 'weight_decay')})"]
        return [*gradient_prefix(ctx), direction, *decay]
    return [*gradient_prefix(ctx), *l2_decay(ctx), direction]


def scale_by_lr(learning_rate: cst.BaseExpression) -> str:
    return f"optax.scale_by_learning_rate({code_of(learning_rate)})"


def expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def epochs_to_updates(epochs: str, steps_per_epoch: cst.BaseExpression | None) -> str:
    """An epoch count as an update count: ``epochs * steps_per_epoch`` (or as is, when stepped per update)."""
    if steps_per_epoch is None:
        return epochs
    spe = code_of(steps_per_epoch)
    if spe == "1":
        return epochs
    if epochs == "1":
        return spe
    wrapped = epochs if _atomic(epochs) else f"({epochs})"
    return f"{wrapped} * {spe}"


def _atomic(text: str) -> bool:
    return isinstance(cst.parse_expression(text), (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript))


EPOCH_SCHEDULE = "torch_epoch_schedule"
EPOCH_SCHEDULE_SOURCE = '''
def torch_epoch_schedule(schedule, steps_per_epoch):
    """A scheduler stepped once per epoch (scheduler rules O031-O042): `schedule` counts `scheduler.step()` calls, optax counts
    updates, so the learning rate of update `count` is `schedule(count // steps_per_epoch)`: constant
    within an epoch, as in PyTorch."""
    return lambda count: schedule(count // steps_per_epoch)
'''


def per_epoch(schedule: str, steps_per_epoch: cst.BaseExpression | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A schedule of the epoch index made a schedule of the update count (support function), or as is
    when the scheduler is stepped once per update."""
    if steps_per_epoch is None or code_of(steps_per_epoch) == "1":
        return schedule, ()
    return f"{EPOCH_SCHEDULE}({schedule}, {code_of(steps_per_epoch)})", ((EPOCH_SCHEDULE, EPOCH_SCHEDULE_SOURCE),)


def operand(text: str) -> str:
    """``text`` parenthesised unless it is atomic: safe as an operand of ``*``."""
    return text if _atomic(text) else f"({text})"
