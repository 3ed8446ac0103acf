"""O031 TorchStepLR: ``StepLR(optimizer, step_size, gamma)`` -> ``optax.exponential_decay(staircase=True)``."""

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
class TorchStepLR(TrainingRule):
    code = "O031"
    name = "TorchStepLR"
    summary = "StepLR(step_size, gamma) -> optax.exponential_decay(lr, step_size * steps_per_epoch, gamma, staircase=True)"
    torch_schedulers = ("torch.optim.lr_scheduler.StepLR",)
    doc = RuleDoc(
        what="`lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)`, stepped once per epoch (or per update).",
        why=(
            "torch multiplies the rate by `gamma` every `step_size` calls of `scheduler.step()`, which\n"
            "scripts make once per epoch; an optax schedule is a function of the update count. So\n"
            "`step_size` epochs are `step_size * steps_per_epoch` updates (`len(train_loader)`), and\n"
            "`staircase=True` keeps the rate constant in between, as torch does (without it the rate\n"
            "decays continuously: measured over 3 * step_size epochs, up to 87% off with gamma=0.1)."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)",
            flax="schedule = optax.exponential_decay(0.01, transition_steps=30 * steps_per_epoch, decay_rate=0.1, staircase=True)",
        ),
        fidelity="Exact (the rate at every update of the drawn runs, relative: 1.7e-16 with float64 counts; 1.0e-7 with optax's int32 count, which JAX divides in float32).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        steps = epochs_to_updates(src(ctx, "step_size"), steps_per_epoch)
        return ScheduleBuild(expression(
            f"optax.exponential_decay({code_of(base_learning_rate)}, transition_steps={steps}, "
            f"decay_rate={src(ctx, 'gamma')}, staircase=True)"
        ))

    def cases(self):
        @st.composite
        def step_case(draw):
            size = draw(st.integers(1, 4))
            gamma = draw(st.sampled_from([0.1, 0.5, 0.9]))
            return ScheduleCase(f"lr_scheduler.StepLR(optimizer, step_size={size}, gamma={gamma})", draw(st.sampled_from([0.1, 0.01])),
                                epochs=3 * size + 2, steps_per_epoch=draw(st.sampled_from([None, 1, 3])))

        return step_case()
