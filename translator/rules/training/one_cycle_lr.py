"""O040 TorchOneCycleLR: ``OneCycleLR(optimizer, max_lr, total_steps | epochs, steps_per_epoch, ...)`` -> ``torch_one_cycle``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, NotLiteral, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    expression,
    flag,
    keywords,
    literal,
    operand,
    per_epoch,
    src,
    written,
)

SUPPORT_NAME = "torch_one_cycle"
SUPPORT = '''
def torch_one_cycle(total_steps, start, peak, end, pct_start=0.3, anneal_strategy="cos", three_phase=False):
    """OneCycleLR (O040) as a schedule of the update count: start -> peak -> end (three_phase: start ->
    peak -> start -> end) in torch's phases, the first ending at step pct_start * total_steps - 1
    (optax.cosine_onecycle_schedule ends it at int(pct_start * total_steps): one step later). Also the
    momentum schedule, with (start, peak, end) = (max_momentum, base_momentum, max_momentum)."""
    if three_phase:
        ends = [float(pct_start * total_steps) - 1, float(2 * pct_start * total_steps) - 2, total_steps - 1]
        values = [(start, peak), (peak, start), (start, end)]
    else:
        ends = [float(pct_start * total_steps) - 1, total_steps - 1]
        values = [(start, peak), (peak, end)]

    def anneal(first, last, pct):
        if anneal_strategy == "cos":
            return last + (first - last) / 2.0 * (jnp.cos(jnp.pi * pct) + 1)
        return (last - first) * pct + first

    def schedule(count):
        begins = [0.0, *ends[:-1]]
        value = anneal(*values[-1], (count - begins[-1]) / (ends[-1] - begins[-1]))
        for begin, stop, (first, last) in reversed(list(zip(begins[:-1], ends[:-1], values[:-1]))):
            value = jnp.where(count <= stop, anneal(first, last, (count - begin) / (stop - begin)), value)
        return value

    return schedule
'''


@register
class TorchOneCycleLR(TrainingRule):
    code = "O040"
    name = "TorchOneCycleLR"
    summary = "OneCycleLR(max_lr, total_steps, ...) -> torch_one_cycle (torch's phase boundaries; momentum cycled too)"
    torch_schedulers = ("torch.optim.lr_scheduler.OneCycleLR",)
    flagged_calls = ("lr_scheduler.OneCycleLR(optimizer, max_lr=[0.1, 0.01], total_steps=100)",)
    doc = RuleDoc(
        what=(
            "`lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,\n"
            "pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85,\n"
            "max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False)`, stepped per batch."
        ),
        why=(
            "torch's warm-up ends at step `pct_start * total_steps - 1` and the next phase starts from that\n"
            "(fractional) step; `optax.cosine_onecycle_schedule` puts the boundary at\n"
            "`int(pct_start * total_steps)`: one step late (measured with total_steps=20: 15% of\n"
            "max_lr). The support schedule `torch_one_cycle` follows torch's phases. With\n"
            "`cycle_momentum=True` (the default) torch also cycles the optimizer's momentum (SGD) or beta1\n"
            "(Adam, AdamW) between `max_momentum` and `base_momentum`: the translation returns that\n"
            "schedule too, and the optimizer rule takes it (`torch_sgd_momentum`, `torch_scale_by_adam`);\n"
            "cycling the rate alone leaves the parameters Δ 0.29 apart after 20 SGD steps."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=1000, cycle_momentum=False)",
            flax="schedule = torch_one_cycle(1000, 0.1 / 25.0, 0.1, 0.1 / 25.0 / 10000.0)",
        ),
        fidelity=(
            "Exact up to rounding (the rate at every step of the drawn runs, both anneal strategies, three\n"
            "phases: 1.7e-16; 20 SGD, Adam and AdamW steps with the momentum cycled: parameter Δ 1.5e-15)."
        ),
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        if literal(ctx, "max_lr") is not NotLiteral and isinstance(literal(ctx, "max_lr"), list | tuple):
            ctx.unsupported("`max_lr` per parameter group is not translated (one schedule per group)")
            return ScheduleBuild(None)
        if not ctx.is_default("total_steps"):
            total = src(ctx, "total_steps")
        elif not ctx.is_default("epochs") and not ctx.is_default("steps_per_epoch"):
            total = f"{operand(src(ctx, 'epochs'))} * {operand(src(ctx, 'steps_per_epoch'))}"
        else:
            ctx.unsupported("OneCycleLR needs `total_steps`, or `epochs` and `steps_per_epoch`")
            return ScheduleBuild(None)
        max_lr = operand(src(ctx, "max_lr"))
        initial = f"{max_lr} / {operand(src(ctx, 'div_factor'))}"
        options = keywords([("pct_start", written(ctx, "pct_start")), ("anneal_strategy", written(ctx, "anneal_strategy")),
                            ("three_phase", written(ctx, "three_phase"))])
        lr, support = per_epoch(f"torch_one_cycle({total}, {initial}, {max_lr}, {initial} / {operand(src(ctx, 'final_div_factor'))}{options})",
                                steps_per_epoch)
        momentum = None
        if ctx.is_default("cycle_momentum") or flag(ctx, "cycle_momentum"):
            high, low = src(ctx, "max_momentum"), src(ctx, "base_momentum")
            momentum, _ = per_epoch(f"torch_one_cycle({total}, {high}, {low}, {high}{options})", steps_per_epoch)
            momentum = expression(momentum)
        return ScheduleBuild(expression(lr), momentum=momentum, support=((SUPPORT_NAME, SUPPORT), *support))

    def cases(self):
        @st.composite
        def one_cycle_case(draw):
            total = draw(st.integers(8, 30))
            args = [f"max_lr={draw(st.sampled_from([0.1, 1.0]))}", f"total_steps={total}"]
            for option in ("pct_start=0.25", "anneal_strategy='linear'", "three_phase=True", "div_factor=10.0", "final_div_factor=100.0"):
                if draw(st.booleans()):
                    args.append(option)
            return ScheduleCase(f"lr_scheduler.OneCycleLR(optimizer, {', '.join(args)})", 0.1, epochs=total, steps_per_epoch=None)

        return one_cycle_case()
