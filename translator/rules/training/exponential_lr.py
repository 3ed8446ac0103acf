"""O033 TorchExponentialLR: ``ExponentialLR(optimizer, gamma)`` -> ``optax.exponential_decay`` per epoch."""

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
    src,
)


@register
class TorchExponentialLR(TrainingRule):
    code = "O033"
    name = "TorchExponentialLR"
    summary = "ExponentialLR(gamma) -> optax.exponential_decay(lr, steps_per_epoch, gamma, staircase=True)"
    torch_schedulers = ("torch.optim.lr_scheduler.ExponentialLR",)
    doc = RuleDoc(
        what="`lr_scheduler.ExponentialLR(optimizer, gamma)`.",
        why=(
            "The rate is multiplied by `gamma` at each `scheduler.step()`: once per epoch in most scripts,\n"
            "so once every `steps_per_epoch` updates, constant in between (`staircase=True`)."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.95)",
            flax="schedule = optax.exponential_decay(0.01, transition_steps=steps_per_epoch, decay_rate=0.95, staircase=True)",
        ),
        fidelity="Exact up to rounding: torch multiplies step by step, optax raises gamma to the epoch (the rate at every update of the drawn runs: 1.4e-16; int32 count: 1.5e-7). Decaying every update instead of every epoch: 43% off.",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        steps = epochs_to_updates("1", steps_per_epoch)
        return ScheduleBuild(expression(
            f"optax.exponential_decay({code_of(base_learning_rate)}, transition_steps={steps}, "
            f"decay_rate={src(ctx, 'gamma')}, staircase=True)"
        ))

    def cases(self):
        @st.composite
        def exponential_case(draw):
            gamma = draw(st.sampled_from([0.5, 0.9, 0.99]))
            return ScheduleCase(f"lr_scheduler.ExponentialLR(optimizer, gamma={gamma})", 0.1, epochs=12,
                                steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return exponential_case()
