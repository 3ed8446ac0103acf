"""O039 TorchCosineAnnealingWarmRestarts: ``CosineAnnealingWarmRestarts(optimizer, T_0, T_mult, eta_min)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    expression,
    keywords,
    per_epoch,
    src,
    written,
)

SUPPORT_NAME = "torch_cosine_warm_restarts"
SUPPORT = '''
def torch_cosine_warm_restarts(base_lr, t_0, t_mult=1, eta_min=0.0):
    """CosineAnnealingWarmRestarts (O039) as a schedule of the epoch: a cosine from base_lr to eta_min
    over cycles of t_0, t_0 * t_mult, ... epochs, restarting at base_lr (torch's T_cur / T_i)."""

    def schedule(epoch):
        if t_mult == 1:
            t_cur, t_i = epoch % t_0, t_0
        else:
            cycle = jnp.arange(1.0, 30.0)  # floats: t_mult ** 29 overflows an int32
            starts = t_0 * (t_mult**cycle - 1) / (t_mult - 1)  # the epoch each later cycle begins
            n = jnp.sum(epoch >= starts).astype(cycle.dtype)
            t_cur, t_i = epoch - t_0 * (t_mult**n - 1) / (t_mult - 1), t_0 * t_mult**n
        return eta_min + (base_lr - eta_min) * (1 + jnp.cos(jnp.pi * t_cur / t_i)) / 2

    return schedule
'''


@register
class TorchCosineAnnealingWarmRestarts(TrainingRule):
    code = "O039"
    name = "TorchCosineAnnealingWarmRestarts"
    summary = "CosineAnnealingWarmRestarts(T_0, T_mult, eta_min) -> torch_cosine_warm_restarts (SGDR cycles)"
    torch_schedulers = ("torch.optim.lr_scheduler.CosineAnnealingWarmRestarts",)
    doc = RuleDoc(
        what="`lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0, T_mult=1, eta_min=0.0)`, stepped without arguments.",
        why=(
            "Each cycle anneals from the base rate to the absolute `eta_min` and restarts; cycle i lasts\n"
            "`T_0 * T_mult ** i` epochs. `optax.sgdr_schedule` takes a list of explicit cycles with warm-up\n"
            "and decay steps instead; the support schedule `torch_cosine_warm_restarts` computes torch's\n"
            "`T_cur`/`T_i` from the epoch. `scheduler.step(epoch + i / iters)` (fractional epochs) is a\n"
            "per-update schedule: the script translator passes the update count scaled the same way."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)",
            flax="schedule = torch_epoch_schedule(torch_cosine_warm_restarts(0.01, 10, t_mult=2), steps_per_epoch)",
        ),
        fidelity="Exact up to rounding (the rate at every update of the drawn runs over three cycles, T_mult 1 to 3: 1.4e-16).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        options = keywords([("t_mult", written(ctx, "T_mult")), ("eta_min", written(ctx, "eta_min"))])
        inner = f"torch_cosine_warm_restarts({code_of(base_learning_rate)}, {src(ctx, 'T_0')}{options})"
        schedule, support = per_epoch(inner, steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=((SUPPORT_NAME, SUPPORT), *support))

    def cases(self):
        @st.composite
        def restarts_case(draw):
            t_0 = draw(st.integers(1, 4))
            t_mult = draw(st.sampled_from([1, 2, 3]))
            floor = draw(st.sampled_from(["", ", eta_min=0.01"]))
            return ScheduleCase(f"lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0={t_0}, T_mult={t_mult}{floor})", 0.1,
                                epochs=min(40, t_0 * (1 + t_mult + t_mult**2) + 1), steps_per_epoch=draw(st.sampled_from([None, 2])))

        return restarts_case()
