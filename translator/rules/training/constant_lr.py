"""O036 TorchConstantLR: ``ConstantLR(optimizer, factor, total_iters)`` -> ``optax.join_schedules`` of two constants."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    epochs_to_updates,
    expression,
    operand,
    src,
)


@register
class TorchConstantLR(TrainingRule):
    code = "O036"
    name = "TorchConstantLR"
    summary = "ConstantLR(factor=1/3, total_iters=5) -> join_schedules([constant(lr * factor), constant(lr)], [total_iters * steps_per_epoch])"
    torch_schedulers = ("torch.optim.lr_scheduler.ConstantLR",)
    doc = RuleDoc(
        what="`lr_scheduler.ConstantLR(optimizer, factor=1/3, total_iters=5)`.",
        why=(
            "The rate is `lr * factor` for the first `total_iters` epochs, then `lr`: two constant\n"
            "schedules joined at `total_iters * steps_per_epoch` updates (torch's defaults written out)."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.ConstantLR(optimizer, factor=0.5, total_iters=4)",
            flax=(
                "schedule = optax.join_schedules([optax.constant_schedule(0.01 * 0.5), optax.constant_schedule(0.01)], "
                "[4 * steps_per_epoch])"
            ),
        ),
        fidelity="Exact up to one rounding: torch divides back by the factor (the rate at every update of the drawn runs: 1.4e-16).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        lr = operand(code_of(base_learning_rate))
        boundary = epochs_to_updates(src(ctx, "total_iters"), steps_per_epoch)
        return ScheduleBuild(expression(
            f"optax.join_schedules([optax.constant_schedule({lr} * {operand(src(ctx, 'factor'))}), optax.constant_schedule({lr})], [{boundary}])"
        ))

    def cases(self):
        @st.composite
        def constant_case(draw):
            factor = draw(st.sampled_from([0.1, 0.5, 1 / 3]))
            total = draw(st.integers(1, 5))
            return ScheduleCase(f"lr_scheduler.ConstantLR(optimizer, factor={factor}, total_iters={total})", 0.1,
                                epochs=total + 3, steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return constant_case()
