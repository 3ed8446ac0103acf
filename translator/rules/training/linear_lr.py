"""O035 TorchLinearLR: ``LinearLR(optimizer, start_factor, end_factor, total_iters)`` -> ``optax.linear_schedule``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    expression,
    operand,
    per_epoch,
    src,
)


@register
class TorchLinearLR(TrainingRule):
    code = "O035"
    name = "TorchLinearLR"
    summary = "LinearLR(start_factor=1/3, end_factor=1, total_iters=5) -> optax.linear_schedule over epochs"
    torch_schedulers = ("torch.optim.lr_scheduler.LinearLR",)
    doc = RuleDoc(
        what="`lr_scheduler.LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5)` (a warm-up).",
        why=(
            "The factor moves linearly from `start_factor` to `end_factor` over `total_iters` calls of\n"
            "`scheduler.step()`, then stays: `optax.linear_schedule(lr * start, lr * end, total_iters)`\n"
            "counted in epochs, constant within an epoch (`torch_epoch_schedule`) when stepped per epoch.\n"
            "torch's defaults (1/3, 1.0, 5) are written out."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=5)",
            flax="schedule = torch_epoch_schedule(optax.linear_schedule(0.01 * 0.1, 0.01 * 1.0, 5), steps_per_epoch)",
        ),
        fidelity="Exact up to rounding (torch's recursive factor vs the closed form, the rate at every update of the drawn runs: 1.4e-16; int32 count: 7.6e-8).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        lr = operand(code_of(base_learning_rate))
        start, end = operand(src(ctx, "start_factor")), operand(src(ctx, "end_factor"))
        inner = (f"optax.linear_schedule({lr} * {start}, {lr} * {end}, "
                 f"{src(ctx, 'total_iters')})")
        schedule, support = per_epoch(inner, steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=support)

    def cases(self):
        @st.composite
        def linear_case(draw):
            start = draw(st.sampled_from([0.1, 0.25, 1 / 3]))
            end = draw(st.sampled_from([1.0, 0.5]))
            total = draw(st.integers(1, 6))
            return ScheduleCase(f"lr_scheduler.LinearLR(optimizer, start_factor={start}, end_factor={end}, total_iters={total})",
                                0.1, epochs=total + 3, steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return linear_case()
