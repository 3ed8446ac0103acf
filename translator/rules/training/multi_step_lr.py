"""O032 TorchMultiStepLR: ``MultiStepLR(optimizer, milestones, gamma)`` -> ``optax.piecewise_constant_schedule``."""

from __future__ import annotations

from collections import Counter

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
    src,
)


@register
class TorchMultiStepLR(TrainingRule):
    code = "O032"
    name = "TorchMultiStepLR"
    summary = "MultiStepLR(milestones, gamma) -> optax.piecewise_constant_schedule(lr, {m * steps_per_epoch: gamma})"
    torch_schedulers = ("torch.optim.lr_scheduler.MultiStepLR",)
    doc = RuleDoc(
        what="`lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)` with constant milestones.",
        why=(
            "The rate is multiplied by `gamma` at each milestone epoch: `piecewise_constant_schedule`\n"
            "scales it at each boundary update count, `milestone * steps_per_epoch`. A milestone listed\n"
            "twice multiplies twice in torch (a Counter), so it becomes one boundary with `gamma ** 2`."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)",
            flax="schedule = optax.piecewise_constant_schedule(0.01, {30 * steps_per_epoch: 0.1, 80 * steps_per_epoch: 0.1})",
        ),
        fidelity="Exact (the rate at every update of the drawn runs, relative: 0, with float64 and int32 counts).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        milestones = literal(ctx, "milestones")
        if milestones is NotLiteral or not all(isinstance(m, int) for m in milestones):
            ctx.unsupported("`milestones` must be a constant list of epochs (each becomes a schedule boundary)")
            return ScheduleBuild(None)
        gamma = src(ctx, "gamma")
        scales = ", ".join(
            f"{epochs_to_updates(str(m), steps_per_epoch)}: {gamma if n == 1 else f'{gamma} ** {n}'}"
            for m, n in sorted(Counter(milestones).items())
        )
        return ScheduleBuild(expression(f"optax.piecewise_constant_schedule({code_of(base_learning_rate)}, {{{scales}}})"))

    def cases(self):
        @st.composite
        def multi_step_case(draw):
            milestones = sorted(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
            gamma = draw(st.sampled_from([0.1, 0.5]))
            return ScheduleCase(f"lr_scheduler.MultiStepLR(optimizer, milestones={milestones}, gamma={gamma})", 0.1,
                                epochs=10, steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return multi_step_case()
