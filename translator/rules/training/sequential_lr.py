"""O041 TorchSequentialLR: ``SequentialLR(optimizer, schedulers, milestones)`` -> ``optax.join_schedules``."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, NotLiteral, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    epochs_to_updates,
    expression,
    literal,
)


@register
class TorchSequentialLR(TrainingRule):
    code = "O041"
    name = "TorchSequentialLR"
    summary = "SequentialLR(schedulers, milestones) (warm-up then decay) -> optax.join_schedules(schedules, boundaries)"
    torch_schedulers = ("torch.optim.lr_scheduler.SequentialLR",)
    flagged_calls = ("lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, decay], milestones=[5])",)
    doc = RuleDoc(
        what=(
            "`lr_scheduler.SequentialLR(optimizer, schedulers=[...], milestones=[...])` with the schedulers\n"
            "constructed in the list (the usual warm-up: `[LinearLR(...), CosineAnnealingLR(...)]`)."
        ),
        why=(
            "torch hands over to the next scheduler at each milestone epoch and restarts it from its own\n"
            "epoch 0 (`scheduler.step(0)`); `optax.join_schedules` calls schedule i with the count minus\n"
            "its boundary: the same, with the boundaries in updates (`milestone * steps_per_epoch`)."
        ),
        example=Example(
            torch=(
                "scheduler = lr_scheduler.SequentialLR(optimizer, [lr_scheduler.LinearLR(optimizer, 0.1, total_iters=5), "
                "lr_scheduler.ExponentialLR(optimizer, 0.9)], milestones=[5])"
            ),
            flax=(
                "schedule = optax.join_schedules([optax.linear_schedule(0.01 * 0.1, 0.01 * 1.0, 5), "
                "optax.exponential_decay(0.01, transition_steps=1, decay_rate=0.9, staircase=True)], [5])"
            ),
        ),
        fidelity="Exact (the rate at every update of the drawn runs, warm-up into cosine, step and exponential decay: 1.4e-16; int32 count: 5.7e-8).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        schedulers = ctx.expr("schedulers")
        milestones = literal(ctx, "milestones")
        if not isinstance(schedulers, cst.List | cst.Tuple) or milestones is NotLiteral:
            ctx.unsupported("`schedulers` must be a list of scheduler constructions and `milestones` a constant list")
            return ScheduleBuild(None)
        builds = [ctx.schedule_of(element.value, steps_per_epoch) for element in schedulers.elements]
        if any(b is None for b in builds):
            return ScheduleBuild(None)
        if any(b.schedule is None or b.momentum is not None for b in builds):
            ctx.unsupported("a scheduler in SequentialLR is not a plain learning-rate schedule (ReduceLROnPlateau, cycled momentum)")
            return ScheduleBuild(None)
        boundaries = ", ".join(epochs_to_updates(str(m), steps_per_epoch) for m in milestones)
        schedules = ", ".join(code_of(b.schedule) for b in builds)
        return ScheduleBuild(expression(f"optax.join_schedules([{schedules}], [{boundaries}])"))

    def cases(self):
        inner = [
            "lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters={m})",
            "lr_scheduler.ConstantLR(optimizer, factor=0.5, total_iters={m})",
            "lr_scheduler.CosineAnnealingLR(optimizer, T_max=6, eta_min=0.001)",
            "lr_scheduler.ExponentialLR(optimizer, gamma=0.8)",
            "lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)",
        ]

        @st.composite
        def sequential_case(draw):
            first = draw(st.integers(1, 4))
            chosen = draw(st.lists(st.sampled_from(inner), min_size=2, max_size=3))
            milestones = [first + 3 * i for i in range(len(chosen) - 1)]
            schedulers = ", ".join(s.format(m=first) for s in chosen)
            return ScheduleCase(f"lr_scheduler.SequentialLR(optimizer, schedulers=[{schedulers}], milestones={milestones})", 0.1,
                                epochs=milestones[-1] + 6, steps_per_epoch=draw(st.sampled_from([None, 2])))

        return sequential_case()
