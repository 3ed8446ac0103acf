"""O037 TorchPolynomialLR: ``PolynomialLR(optimizer, total_iters, power)`` -> ``torch_polynomial_decay``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import ScheduleCase, TrainingRule, expression, per_epoch, src

SUPPORT_NAME = "torch_polynomial_decay"
SUPPORT = '''
def torch_polynomial_decay(base_lr, total_iters, power=1.0):
    """PolynomialLR (O037) as a schedule of the epoch: base_lr * (1 - min(epoch, total_iters) / total_iters)
    ** power, written (total_iters - min(epoch, total_iters)) / total_iters: under jit XLA divides by
    multiplying with the reciprocal, so 1 - total_iters / total_iters can be -6e-17 and
    optax.polynomial_schedule's fractional power of it is nan from the last epoch on."""
    return lambda epoch: base_lr * ((total_iters - jnp.minimum(epoch, total_iters)) / total_iters) ** power
'''


@register
class TorchPolynomialLR(TrainingRule):
    code = "O037"
    name = "TorchPolynomialLR"
    summary = "PolynomialLR(total_iters=5, power=1) -> torch_polynomial_decay (optax.polynomial_schedule is nan under jit for power < 1)"
    torch_schedulers = ("torch.optim.lr_scheduler.PolynomialLR",)
    doc = RuleDoc(
        what="`lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)`.",
        why=(
            "The rate decays as `lr * (1 - epoch / total_iters) ** power` to 0 at `total_iters` and stays\n"
            "there, constant within an epoch (`torch_epoch_schedule`). `optax.polynomial_schedule(lr, 0.0,\n"
            "power, total_iters)` is the same formula, but under `jit` XLA computes `count / total_iters` as\n"
            "`count * (1 / total_iters)`, so `1 - total_iters / total_iters` can be -6e-17 and a fractional\n"
            "power of it is nan: measured with power=0.5, the rate is nan from epoch `total_iters` on (and\n"
            "so are the parameters). The support schedule `torch_polynomial_decay` divides the remaining\n"
            "epochs, an exact integer that reaches 0."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.PolynomialLR(optimizer, total_iters=10, power=2.0)",
            flax="schedule = torch_epoch_schedule(torch_polynomial_decay(0.01, 10, power=2.0), steps_per_epoch)",
        ),
        fidelity="Exact up to rounding (torch's recursive ratio vs the closed form, the rate at every update of the drawn runs: 1.4e-16; int32 count: 8.9e-8).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        power = "" if ctx.is_default("power") else f", power={src(ctx, 'power')}"
        inner = f"torch_polynomial_decay({code_of(base_learning_rate)}, {src(ctx, 'total_iters')}{power})"
        schedule, support = per_epoch(inner, steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=((SUPPORT_NAME, SUPPORT), *support))

    def cases(self):
        @st.composite
        def polynomial_case(draw):
            total = draw(st.integers(1, 6))
            power = draw(st.sampled_from([1.0, 2.0, 0.5]))
            return ScheduleCase(f"lr_scheduler.PolynomialLR(optimizer, total_iters={total}, power={power})", 0.1,
                                epochs=total + 3, steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return polynomial_case()
