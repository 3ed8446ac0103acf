"""O034 TorchCosineAnnealingLR: ``CosineAnnealingLR(optimizer, T_max, eta_min)`` -> ``torch_cosine_annealing``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import ScheduleCase, TrainingRule, expression, per_epoch, src

SUPPORT_NAME = "torch_cosine_annealing"
SUPPORT = '''
def torch_cosine_annealing(base_lr, t_max, eta_min=0.0):
    """CosineAnnealingLR (O034) as a schedule of the epoch: eta_min + (base_lr - eta_min) * (1 + cos(pi *
    epoch / t_max)) / 2. `eta_min` is an absolute rate, and past t_max the rate climbs back (period
    2 * t_max), as torch's recursive form does; optax.cosine_decay_schedule stays at alpha * init."""
    return lambda epoch: eta_min + (base_lr - eta_min) * (1 + jnp.cos(jnp.pi * epoch / t_max)) / 2
'''


@register
class TorchCosineAnnealingLR(TrainingRule):
    code = "O034"
    name = "TorchCosineAnnealingLR"
    summary = "CosineAnnealingLR(T_max, eta_min) -> torch_cosine_annealing (absolute eta_min, climbs back after T_max)"
    torch_schedulers = ("torch.optim.lr_scheduler.CosineAnnealingLR",)
    doc = RuleDoc(
        what="`lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)`.",
        why=(
            "torch's `eta_min` is an absolute rate (optax's `alpha` is a fraction of the initial one), and\n"
            "torch keeps following the cosine after `T_max`: the rate climbs back to the base rate at\n"
            "2 * T_max, while `optax.cosine_decay_schedule` stays at its floor (measured over 3 * T_max\n"
            "epochs: 99% of the base rate apart). Stepped per epoch, the rate is constant within an\n"
            "epoch (`torch_epoch_schedule`), where the optax schedule would move every update."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=1e-5)",
            flax="schedule = torch_epoch_schedule(torch_cosine_annealing(0.01, 50, eta_min=1e-5), steps_per_epoch)",
        ),
        fidelity="Exact up to rounding (torch's recursive form vs the closed form, the rate at every update of the drawn runs over 3 * T_max epochs: 1.1e-15).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        floor = "" if ctx.is_default("eta_min") else f", eta_min={src(ctx, 'eta_min')}"
        schedule, support = per_epoch(f"torch_cosine_annealing({code_of(base_learning_rate)}, {src(ctx, 'T_max')}{floor})", steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=((SUPPORT_NAME, SUPPORT), *support))

    def cases(self):
        @st.composite
        def cosine_case(draw):
            t_max = draw(st.integers(1, 6))
            floor = draw(st.sampled_from(["", ", eta_min=0.001", ", eta_min=0.05"]))
            return ScheduleCase(f"lr_scheduler.CosineAnnealingLR(optimizer, T_max={t_max}{floor})", 0.1, epochs=3 * t_max + 1,
                                steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return cosine_case()
