"""O037 TorchPolynomialLR: ``PolynomialLR(optimizer, total_iters, power)`` -> ``optax.polynomial_schedule``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import ScheduleCase, TrainingRule, expression, per_epoch, src


@register
class TorchPolynomialLR(TrainingRule):
    code = "O037"
    name = "TorchPolynomialLR"
    summary = "PolynomialLR(total_iters=5, power=1) -> optax.polynomial_schedule(lr, 0, power, total_iters) over epochs"
    torch_schedulers = ("torch.optim.lr_scheduler.PolynomialLR",)
    doc = RuleDoc(
        what="`lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)`.",
        why=(
            "The rate decays as `lr * (1 - epoch / total_iters) ** power` to 0 at `total_iters` and stays\n"
            "there: `optax.polynomial_schedule(lr, 0.0, power, total_iters)` of the epoch, constant within\n"
            "an epoch (`torch_epoch_schedule`)."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.PolynomialLR(optimizer, total_iters=10, power=2.0)",
            flax="schedule = torch_epoch_schedule(optax.polynomial_schedule(0.01, 0.0, 2.0, 10), steps_per_epoch)",
        ),
        fidelity="Exact up to rounding (torch's recursive ratio vs the closed form: relative Δ ≤ 1e-15).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        inner = f"optax.polynomial_schedule({code_of(base_learning_rate)}, 0.0, {src(ctx, 'power')}, {src(ctx, 'total_iters')})"
        schedule, support = per_epoch(inner, steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=support)

    def cases(self):
        @st.composite
        def polynomial_case(draw):
            total = draw(st.integers(1, 6))
            power = draw(st.sampled_from([1.0, 2.0, 0.5]))
            return ScheduleCase(f"lr_scheduler.PolynomialLR(optimizer, total_iters={total}, power={power})", 0.1,
                                epochs=total + 3, steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return polynomial_case()
