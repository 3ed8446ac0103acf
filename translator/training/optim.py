"""Optimizers, schedulers and gradient clipping of a training script, translated to optax.

The script translator (``translator.training.script``) finds the calls; this module binds each call's
arguments to the torch signature, finds the training rule that claims the class or function
(``translator.rules.training``), and returns the optax code with what the caller needs to wire it:

* :func:`translate_optimizer` -- ``optim.Adam(model.parameters(), lr=1e-3)`` -> an optax
  ``GradientTransformation`` (clipping first, the learning rate or a schedule applied, parameter groups
  as ``optax.multi_transform``);
* :func:`translate_schedule` -- ``StepLR(optimizer, 30)`` -> an optax schedule of the update count
  (or ``optax.contrib.reduce_on_plateau``, a transformation whose update takes ``value=``);
* :func:`translate_clip` -- ``clip_grad_norm_(model.parameters(), 1.0)`` -> a transformation.

Every function returns None only after reporting why at the call (``file.report``): the caller leaves
the line out with its TODO. Support definitions the code needs are added to ``file.support``; the
generated file must ``import optax`` (and ``jax``, ``jax.numpy as jnp`` for support code).
"""

from __future__ import annotations

import inspect
import pydoc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import libcst as cst

from translator.naming import library_name
from translator.rewrite.context import (
    FileContext,
    RuleContext,
    UnbindableCall,
    bind_arguments,
    code_of,
)
from translator.rules.base import OptimizerBuild, Rule, ScheduleBuild
from translator.rules.registry import all_rules
from translator.rules.training._common import UNKNOWN, TrainingContext, TrainingRule
from translator.rules.training.param_groups import PARAM_GROUPS, ParamSelection, read_params


@dataclass(frozen=True)
class OptimizerTranslation:
    """An optimizer call translated.

    ``transform``: the optax ``GradientTransformation`` expression (clip transforms first, the learning
    rate applied, parameter groups and subsets as ``optax.multi_transform``).
    ``base_learning_rate``: torch's ``lr`` expression (the optimizer's default written out when the call
    leaves it): what a scheduler over this optimizer starts from.
    ``model``: the root module whose parameters it optimises (``model`` in ``model.fc.parameters()``).
    ``params``: the call's first argument as written.
    ``trainable_only``: the parameters were filtered on ``requires_grad`` (frozen ones must stay out).
    """

    transform: cst.BaseExpression
    base_learning_rate: cst.BaseExpression
    model: cst.BaseExpression
    params: cst.BaseExpression
    rule: Rule
    trainable_only: bool = False
    #: the scheduler's translation for the first parameter group, when ``scheduler=`` was given
    schedule: ScheduleTranslation | None = None


@dataclass(frozen=True)
class ScheduleTranslation:
    """A scheduler call translated.

    ``schedule``: an optax schedule (update count -> learning rate) to pass as the optimizer's learning
    rate (``translate_optimizer(..., learning_rate=schedule)``), or None for ReduceLROnPlateau, whose
    ``transform`` (``optax.contrib.reduce_on_plateau``) is updated with ``value=`` the metric instead
    (``needs_value``). ``momentum``: a schedule of the optimizer's momentum / beta1 (OneCycleLR's
    ``cycle_momentum``), for ``translate_optimizer(..., momentum=...)``. ``optimizer``: the scheduler's
    optimizer argument as written.
    """

    schedule: cst.BaseExpression | None
    optimizer: cst.BaseExpression
    rule: Rule
    transform: cst.BaseExpression | None = None
    needs_value: bool = False
    momentum: cst.BaseExpression | None = None


# --------------------------------------------------------------------------- finding the rule


@cache
def _training_index() -> dict[str, dict[int, tuple[TrainingRule, object]]]:
    index: dict[str, dict[int, tuple[TrainingRule, object]]] = {"optimizer": {}, "scheduler": {}, "function": {}}
    for rule in all_rules():
        if not isinstance(rule, TrainingRule):
            continue
        for kind, names in (("optimizer", rule.torch_optimizers), ("scheduler", rule.torch_schedulers),
                            ("function", rule.torch_gradient_functions)):
            for name in names:
                obj = pydoc.locate(name)
                if obj is not None:
                    index[kind].setdefault(id(obj), (rule, obj))
    return index


def training_kind(call: cst.Call, file: FileContext) -> str | None:
    """``"optimizer"``, ``"scheduler"`` or ``"clip"`` for a call of a torch class or function a training
    rule claims (or any other ``torch.optim``/``lr_scheduler`` class: translated or reported); else None."""
    name = library_name(file.resolved, call.func)
    if name is None or not name.startswith("torch."):
        return None
    obj = pydoc.locate(name)
    index = _training_index()
    if id(obj) in index["optimizer"]:
        return "optimizer"
    if id(obj) in index["scheduler"]:
        return "scheduler"
    if id(obj) in index["function"]:
        return "clip"
    if name.startswith("torch.optim.lr_scheduler."):
        return "scheduler"
    if name.startswith("torch.optim."):
        return "optimizer"
    return None


def _claimed(call: cst.Call, file: FileContext, kind: str) -> tuple[TrainingRule, object] | None:
    name = library_name(file.resolved, call.func)
    obj = pydoc.locate(name) if name and name.startswith("torch.") else None
    found = _training_index()[kind].get(id(obj)) if obj is not None else None
    if found is None:
        what = {"optimizer": "optimizer", "scheduler": "learning-rate scheduler", "function": "gradient function"}[kind]
        file.report(UNKNOWN, f"`{name or code_of(call.func)}` is not {'an' if what[0] in 'aeiou' else 'a'} {what} torch2flax translates to optax", call)
    return found


class TrainingRuleContext(RuleContext, TrainingContext):
    """The context a training rule sees: the bound call, plus nested schedulers (``SequentialLR``)."""

    def __init__(self, rule, file, node, signature, provided, target, base_learning_rate=None, definitions=None):
        super().__init__(rule, file, node, signature, provided, target=target)
        self.base_learning_rate = base_learning_rate
        self.definitions = definitions or {}

    def schedule_of(self, expr, steps_per_epoch):
        if isinstance(expr, cst.Name) and isinstance(self.definitions.get(expr.value), cst.Call):
            expr = self.definitions[expr.value]
        if not isinstance(expr, cst.Call):
            self.unsupported(f"`{code_of(expr)}`: a scheduler in the list is neither constructed there nor a module-level "
                             "name assigned a scheduler")
            return None
        translated = translate_schedule(expr, self.file, base_learning_rate=self.base_learning_rate,
                                        steps_per_epoch=steps_per_epoch, definitions=self.definitions)
        if translated is None:
            self.failed = True
            return None
        return ScheduleBuild(translated.schedule, translated.transform, translated.needs_value, translated.momentum)


def _bind(call: cst.Call, file: FileContext, rule: TrainingRule, obj: object, **extra) -> TrainingRuleContext | None:
    signature = rule.constructor_signature or inspect.signature(obj)
    try:
        provided = bind_arguments(call, signature)
    except UnbindableCall as error:
        file.report(rule.code, f"the arguments of `{code_of(call.func)}` cannot be read: {error}", call)
        return None
    return TrainingRuleContext(rule, file, call, signature, provided, obj, **extra)


def _take(file: FileContext, rule: Rule, notes: Sequence[str], support: Sequence[tuple[str, str]]) -> None:
    for note in notes:
        file.note(rule.code, note)
    for name, source in support:
        file.support.setdefault(name, source)


# --------------------------------------------------------------------------- optimizers


def translate_optimizer(
    call: cst.Call,
    file: FileContext,
    *,
    learning_rate: cst.BaseExpression | None = None,
    clip: Sequence[cst.BaseExpression] = (),
    momentum: cst.BaseExpression | None = None,
    scheduler: cst.Call | None = None,
    steps_per_epoch: cst.BaseExpression | None = None,
    definitions: Mapping[str, cst.BaseExpression] | None = None,
) -> OptimizerTranslation | None:
    """``optim.X(params, ...)`` as an optax transformation, or None (reported at the call).

    ``learning_rate`` replaces torch's ``lr`` (a schedule from :func:`translate_schedule`); ``clip``
    (from :func:`translate_clip`) is chained first; ``momentum`` replaces the momentum / beta1 (a
    OneCycleLR momentum schedule). Or pass the ``scheduler`` call itself (with ``steps_per_epoch`` as
    for :func:`translate_schedule`): each parameter group then gets the schedule built from its own
    ``lr``, as torch schedules each group, and the momentum schedule is applied too;
    :attr:`OptimizerTranslation.schedule` is the first group's (``get_last_lr()[0]``).
    Parameter groups (a list of dicts) become ``optax.multi_transform`` with one transformation per
    group (its own ``lr``, ``weight_decay``... over the call's defaults); an optimizer over part of
    the model leaves the rest unchanged (``optax.set_to_zero()``). ``definitions``: module-level names
    the parameters may be given by (``params = [...]``; a ``no_decay = [...]`` list in a filter).
    """
    found = _claimed(call, file, "optimizer")
    if found is None:
        return None
    rule, obj = found
    ctx = _bind(call, file, rule, obj)
    if ctx is None:
        return None
    selection = read_params(ctx.expr("params"), file, call, definitions or {})
    if selection is None:
        return None
    base_lr = ctx.expr("lr")
    builds: list[OptimizerBuild] = []
    schedules: list[ScheduleTranslation] = []
    for overrides in selection.group_overrides():
        group_ctx = _bind(call.with_changes(args=[*call.args, *overrides]), file, rule, obj) if overrides else ctx
        if group_ctx is None:
            return None
        own_lr = any(a.keyword and a.keyword.value == "lr" for a in overrides)
        group_lr, group_momentum = learning_rate, momentum
        if scheduler is not None:
            schedule = translate_schedule(scheduler, file, base_learning_rate=group_ctx.expr("lr"), steps_per_epoch=steps_per_epoch,
                                          definitions=definitions)
            if schedule is None:
                return None
            schedules.append(schedule)
            group_lr = schedule.schedule if schedule.schedule is not None else group_ctx.expr("lr")
            group_momentum = schedule.momentum
        elif group_lr is None or own_lr:
            if learning_rate is not None:
                file.report(rule.code, "a schedule over parameter groups with their own `lr`: pass the scheduler call "
                                       "(translate_optimizer(..., scheduler=...)) so that each group's schedule starts from its lr", call)
                return None
            group_lr = group_ctx.expr("lr")
        build = rule.build_optimizer(group_ctx, group_lr, group_momentum)
        if group_ctx.failed or ctx.failed:
            return None
        _take(file, rule, build.notes, build.support)
        builds.append(build)
    transform = selection.combine([code_of(b.transform) for b in builds], file)
    if clip:
        transform = f"optax.chain({', '.join(code_of(c) for c in clip)}, {transform})"
    return OptimizerTranslation(cst.parse_expression(transform), base_lr, selection.model, ctx.expr("params"), rule,
                                selection.trainable_only, schedules[0] if schedules else None)


def optimizer_base_learning_rate(call: cst.Call, file: FileContext) -> cst.BaseExpression | None:
    """The learning rate an optimizer call starts from: its ``lr`` argument, or the torch default of that
    optimizer written out (Adagrad's and RMSprop's 1e-2, Adamax's and NAdam's 2e-3, Adadelta's 1.0...);
    what a scheduler over it needs (``translate_schedule(base_learning_rate=...)``). None (reported) for
    an optimizer no rule translates."""
    found = _claimed(call, file, "optimizer")
    if found is None:
        return None
    ctx = _bind(call, file, *found)
    return None if ctx is None else ctx.expr("lr")


# --------------------------------------------------------------------------- schedulers


def translate_schedule(
    call: cst.Call,
    file: FileContext,
    *,
    base_learning_rate: cst.BaseExpression,
    steps_per_epoch: cst.BaseExpression | None,
    definitions: Mapping[str, cst.BaseExpression] | None = None,
) -> ScheduleTranslation | None:
    """``lr_scheduler.X(optimizer, ...)`` as an optax schedule of the update count, or None (reported).

    ``base_learning_rate``: the optimizer's lr (:attr:`OptimizerTranslation.base_learning_rate`).
    ``steps_per_epoch``: updates between two ``scheduler.step()`` calls (``len(train_loader)``), or None
    when the scheduler is stepped after every update. ``definitions``: module-level names a
    ``SequentialLR`` list may refer to (``warmup = LinearLR(...)``), mapped to their values.
    """
    found = _claimed(call, file, "scheduler")
    if found is None:
        return None
    rule, obj = found
    ctx = _bind(call, file, rule, obj, base_learning_rate=base_learning_rate, definitions=definitions or {})
    if ctx is None:
        return None
    build = rule.build_schedule(ctx, base_learning_rate, steps_per_epoch)
    if ctx.failed:
        return None
    _take(file, rule, build.notes, build.support)
    optimizer = ctx.expr("optimizer") if "optimizer" in ctx.provided else cst.Name("optimizer")
    return ScheduleTranslation(build.schedule, optimizer, rule, build.transform, build.needs_value, build.momentum)


# --------------------------------------------------------------------------- gradient clipping


def translate_clip(call: cst.Call, file: FileContext, *, definitions: Mapping[str, cst.BaseExpression] | None = None
                   ) -> cst.BaseExpression | None:
    """``clip_grad_norm_(params, max_norm)`` / ``clip_grad_value_(params, v)`` as a transformation to chain
    before the optimizer (``translate_optimizer(..., clip=[...])``), or None (reported). Clipping part of
    the model (``model.fc.parameters()``) is ``optax.masked`` to those parameters (the norm is theirs)."""
    found = _claimed(call, file, "function")
    if found is None:
        return None
    rule, obj = found
    signature = rule.call_signature or inspect.signature(obj)
    try:
        provided = bind_arguments(call, signature)
    except UnbindableCall as error:
        file.report(rule.code, f"the arguments of `{code_of(call.func)}` cannot be read: {error}", call)
        return None
    ctx = TrainingRuleContext(rule, file, call, signature, provided, obj)
    selection = read_params(ctx.expr("parameters"), file, call, definitions or {})
    if selection is None:
        return None
    emitted = rule.emit_call(ctx)
    if ctx.failed:
        return None
    if len(selection.groups) != 1:
        file.report(PARAM_GROUPS, "gradient clipping over parameter groups is not translated", call)
        return None
    return selection.mask(emitted.expr, file)


__all__ = [
    "PARAM_GROUPS",
    "OptimizerTranslation",
    "ParamSelection",
    "ScheduleTranslation",
    "optimizer_base_learning_rate",
    "training_kind",
    "translate_clip",
    "translate_optimizer",
    "translate_schedule",
]
