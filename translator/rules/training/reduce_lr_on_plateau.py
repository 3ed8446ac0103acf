"""O042 TorchReduceLROnPlateau: ``ReduceLROnPlateau(optimizer, ...)`` -> ``optax.contrib.reduce_on_plateau``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, NotLiteral, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    expression,
    is_zero,
    literal,
    operand,
    src,
)


@register
class TorchReduceLROnPlateau(TrainingRule):
    code = "O042"
    name = "TorchReduceLROnPlateau"
    summary = "ReduceLROnPlateau(mode='min', factor, patience, threshold, cooldown, min_lr) -> optax.contrib.reduce_on_plateau(patience + 1, ...)"
    torch_schedulers = ("torch.optim.lr_scheduler.ReduceLROnPlateau",)
    flagged_calls = ("lr_scheduler.ReduceLROnPlateau(optimizer, mode='max')",)
    doc = RuleDoc(
        what=(
            "`lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,\n"
            "threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)`, stepped with a metric:\n"
            "`scheduler.step(val_loss)`."
        ),
        why=(
            "It is not a schedule of the update count but a state driven by a metric: optax's\n"
            "`reduce_on_plateau` is a transformation that scales the updates, updated with `value=`.\n"
            "torch reduces once more than `patience` bad epochs have passed, optax when `patience` have:\n"
            "optax's patience is torch's + 1 (left equal: 75% of the rate apart over 40 epochs). `threshold` is `rtol` ('rel') or `atol` ('abs'); `min_lr` is\n"
            "absolute, optax's `min_scale` relative to the base rate. To match torch step for step, update\n"
            "its state once per `scheduler.step(metric)` with that metric and scale the learning rate by\n"
            "`state.scale`; chained into the optimizer with `value=loss` it would decide on the running\n"
            "loss and apply the new rate one update before torch. `mode='max'` is reported (optax only\n"
            "minimises: pass the negated metric with threshold_mode='abs')."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)",
            flax="plateau = optax.contrib.reduce_on_plateau(factor=0.5, patience=3 + 1, rtol=0.0001, atol=0.0)",
        ),
        fidelity=(
            "Exact when updated once per torch step with the same metric (the rate over 40 epochs of a\n"
            "noisy, plateauing metric, cooldown, thresholds and min_lr included: 0), except that torch's\n"
            "`eps` skips reductions smaller than 1e-8 (absolute) and optax has no such floor."
        ),
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        if literal(ctx, "mode") != "min":
            ctx.unsupported("mode='max' is not translated: optax's reduce_on_plateau minimises (negate the metric, "
                            "threshold_mode='abs')" if literal(ctx, "mode") == "max" else "`mode` must be the constant 'min'")
            return ScheduleBuild(None)
        mode = literal(ctx, "threshold_mode")
        if mode not in ("rel", "abs") or literal(ctx, "min_lr") is not NotLiteral and isinstance(literal(ctx, "min_lr"), list):
            ctx.unsupported("`threshold_mode` must be 'rel' or 'abs' and `min_lr` one number")
            return ScheduleBuild(None)
        threshold = src(ctx, "threshold")
        rtol, atol = (threshold, "0.0") if mode == "rel" else ("0.0", threshold)
        args = [f"factor={src(ctx, 'factor')}", f"patience={operand(src(ctx, 'patience'))} + 1", f"rtol={rtol}", f"atol={atol}"]
        if not is_zero(ctx, "cooldown"):
            args.append(f"cooldown={src(ctx, 'cooldown')}")
        if not is_zero(ctx, "min_lr"):
            args.append(f"min_scale={operand(src(ctx, 'min_lr'))} / {operand(code_of(base_learning_rate))}")
        return ScheduleBuild(None, transform=expression(f"optax.contrib.reduce_on_plateau({', '.join(args)})"), needs_value=True,
                             notes=("ReduceLROnPlateau -> reduce_on_plateau: update its state once per scheduler.step(metric) "
                                    "with value=metric; the learning rate is the base rate times state.scale",))

    def cases(self):
        @st.composite
        def plateau_case(draw):
            args = [f"factor={draw(st.sampled_from([0.1, 0.5]))}", f"patience={draw(st.integers(0, 4))}"]
            if draw(st.booleans()):
                args.append(f"cooldown={draw(st.integers(1, 3))}")
            if draw(st.booleans()):
                args.append("threshold_mode='abs', threshold=0.01")
            if draw(st.booleans()):
                args.append("min_lr=0.004")
            return ScheduleCase(f"lr_scheduler.ReduceLROnPlateau(optimizer, {', '.join(args)})", 0.1, epochs=40, steps_per_epoch=None)

        return plateau_case()
