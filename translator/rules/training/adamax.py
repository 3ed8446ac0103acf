"""O006 TorchAdamax: ``optim.Adamax`` -> ``optax.adamax``, L2 decay first."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, OptimizerBuild, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import (
    OptimizerCase,
    TrainingRule,
    chain,
    expression,
    gradient_prefix,
    keywords,
    l2_decay,
    pair,
    scale_by_lr,
    written,
)


@register
class TorchAdamax(TrainingRule):
    code = "O006"
    name = "TorchAdamax"
    summary = "optim.Adamax(lr=2e-3, betas, eps, weight_decay) -> optax.adamax, L2 decay first"
    torch_optimizers = ("torch.optim.Adamax",)
    doc = RuleDoc(
        what="`optim.Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)`.",
        why=(
            "Both keep `max(b2 * u, |g| + eps)` and bias-correct only the first moment, so\n"
            "`optax.adamax` is torch's rule; torch's default rate is 2e-3 and is always written. Its\n"
            "`weight_decay` is L2 added to the gradient: `optax.add_decayed_weights(wd)` first (optax's\n"
            "`adamaxw` decays after the direction: Δ 2.0e-3 in 20 steps)."
        ),
        example=Example(
            torch="optimizer = optim.Adamax(model.parameters(), weight_decay=0.01)",
            flax=(
                "optimizer = optax.chain(optax.add_decayed_weights(0.01), optax.scale_by_adamax(), "
                "optax.scale_by_learning_rate(0.002))"
            ),
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations: Δ 2.2e-16; float32: 3.0e-7).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("a cycled beta1 (OneCycleLR's cycle_momentum) is not translated for Adamax: pass cycle_momentum=False")
        b1, b2 = pair(ctx, "betas") if not ctx.is_default("betas") else (None, None)
        options = keywords([("b1", b1), ("b2", b2), ("eps", written(ctx, "eps"))])
        prefix = gradient_prefix(ctx) + l2_decay(ctx)
        if not prefix:
            return OptimizerBuild(expression(f"optax.adamax({code_of(learning_rate)}{options})"))
        return OptimizerBuild(expression(chain([*prefix, f"optax.scale_by_adamax({options.removeprefix(', ')})", scale_by_lr(learning_rate)])))

    def cases(self):
        @st.composite
        def adamax_case(draw):
            args = [f"lr={draw(st.sampled_from([2e-3, 0.02]))}"]
            if draw(st.booleans()):
                args.append(f"betas=({draw(st.sampled_from([0.8, 0.9]))}, {draw(st.sampled_from([0.99, 0.999]))})")
            for name, values in (("eps", [1e-8, 1e-2]), ("weight_decay", [1e-3, 0.05])):
                if draw(st.booleans()):
                    args.append(f"{name}={draw(st.sampled_from(values))}")
            return OptimizerCase(f"optim.Adamax(model.parameters(), {', '.join(args)})")

        return adamax_case()
