"""O043 TorchCyclicLR: ``CyclicLR(optimizer, base_lr, max_lr, step_size_up, ...)`` -> ``torch_cyclic`` (momentum cycled too)."""

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
    per_epoch,
    src,
    written,
)

SUPPORT_NAME = "torch_cyclic"
SUPPORT = '''
def torch_cyclic(base, peak, step_size_up=2000, step_size_down=None, mode="triangular", gamma=1.0):
    """CyclicLR (O043) as a schedule of the update count: from `base` to `peak` in step_size_up updates
    and back in step_size_down, the height scaled by 1 ('triangular'), 1 / 2 ** (cycle - 1)
    ('triangular2') or gamma ** count ('exp_range'). Also the momentum schedule, with (base, peak) =
    (max_momentum, base_momentum)."""
    down = float(step_size_up if step_size_down is None else step_size_down)
    total = float(step_size_up) + down
    ratio = step_size_up / total

    def schedule(count):
        cycle = jnp.floor(1 + count / total)
        x = 1.0 + count / total - cycle
        factor = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        if mode == "triangular2":
            factor = factor / 2.0 ** (cycle - 1)
        elif mode == "exp_range":
            factor = factor * gamma**count
        return base + (peak - base) * factor

    return schedule
'''


@register
class TorchCyclicLR(TrainingRule):
    code = "O043"
    name = "TorchCyclicLR"
    summary = "CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma) -> torch_cyclic (momentum cycled too)"
    torch_schedulers = ("torch.optim.lr_scheduler.CyclicLR",)
    flagged_calls = ("lr_scheduler.CyclicLR(optimizer, base_lr=0.001, max_lr=0.1, scale_fn=lambda x: 0.5 ** x)",)
    doc = RuleDoc(
        what=(
            "`lr_scheduler.CyclicLR(optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,\n"
            "mode='triangular', gamma=1.0, cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)`,\n"
            "stepped per batch, with one of its three modes."
        ),
        why=(
            "optax has no cyclical schedule (a `join_schedules` of linear pieces would need every cycle\n"
            "listed). The support schedule `torch_cyclic` is torch's formula of the update count; the\n"
            "scheduler replaces the optimizer's rate with `base_lr`. As OneCycleLR, it cycles the\n"
            "momentum (SGD) or beta1 (Adam) by default, between `max_momentum` and `base_momentum`: that\n"
            "schedule is returned too. A custom `scale_fn` is reported."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.CyclicLR(optimizer, base_lr=0.001, max_lr=0.1, step_size_up=10, cycle_momentum=False)",
            flax="schedule = torch_cyclic(0.001, 0.1, step_size_up=10)",
        ),
        fidelity="Exact up to rounding (the rate at every update, all three modes: 1.7e-15; 20 SGD and Adam steps with the momentum cycled: parameter Δ 3.0e-15).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        if not ctx.is_default("scale_fn"):
            ctx.unsupported("a custom `scale_fn` is not translated: use mode='triangular', 'triangular2' or 'exp_range'")
            return ScheduleBuild(None)
        for name in ("base_lr", "max_lr", "base_momentum", "max_momentum"):
            if literal(ctx, name) is not NotLiteral and isinstance(literal(ctx, name), list | tuple):
                ctx.unsupported(f"`{name}` per parameter group is not translated (one schedule per group)")
                return ScheduleBuild(None)
        options = keywords([("step_size_up", written(ctx, "step_size_up")), ("step_size_down", written(ctx, "step_size_down")),
                            ("mode", written(ctx, "mode")), ("gamma", written(ctx, "gamma"))])
        lr, support = per_epoch(f"torch_cyclic({src(ctx, 'base_lr')}, {src(ctx, 'max_lr')}{options})", steps_per_epoch)
        momentum = None
        if ctx.is_default("cycle_momentum") or flag(ctx, "cycle_momentum"):
            text, _ = per_epoch(f"torch_cyclic({src(ctx, 'max_momentum')}, {src(ctx, 'base_momentum')}{options})", steps_per_epoch)
            momentum = expression(text)
        return ScheduleBuild(expression(lr), momentum=momentum, support=((SUPPORT_NAME, SUPPORT), *support))

    def cases(self):
        @st.composite
        def cyclic_case(draw):
            up = draw(st.integers(1, 5))
            args = ["base_lr=0.01", f"max_lr={draw(st.sampled_from([0.1, 1.0]))}", f"step_size_up={up}"]
            if draw(st.booleans()):
                args.append(f"step_size_down={draw(st.integers(1, 5))}")
            mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
            if mode != "triangular":
                args.append(f"mode='{mode}'")
            if mode == "exp_range":
                args.append("gamma=0.9")
            return ScheduleCase(f"lr_scheduler.CyclicLR(optimizer, {', '.join(args)})", 0.1, epochs=30, steps_per_epoch=None)

        return cyclic_case()
