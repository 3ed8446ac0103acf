"""O005 TorchAdagrad: ``optim.Adagrad`` -> ``torch_scale_by_adagrad`` (torch's eps and initial accumulator)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, OptimizerBuild, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import (
    OptimizerCase,
    TrainingRule,
    chain,
    expression,
    gradient_prefix,
    is_zero,
    keywords,
    l2_decay,
    scale_by_lr,
    src,
    written,
)

SUPPORT_NAME = "torch_scale_by_adagrad"
SUPPORT = '''
def torch_scale_by_adagrad(initial_accumulator_value=0.0, eps=1e-10):
    """torch.optim.Adagrad's step direction, learning rate not applied (O005): g / (sqrt(sum of squares)
    + eps), the sum starting at `initial_accumulator_value` (optax.scale_by_rss puts eps inside the root
    and starts the sum at 0.1)."""

    def init(params):
        return jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)

    def update(updates, state, params=None):
        state = jax.tree.map(lambda s, g: s + g * g, state, updates)
        return jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, state), state

    return optax.GradientTransformation(init, update)
'''


@register
class TorchAdagrad(TrainingRule):
    code = "O005"
    name = "TorchAdagrad"
    summary = "optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps) -> torch_scale_by_adagrad"
    torch_optimizers = ("torch.optim.Adagrad",)
    doc = RuleDoc(
        what="`optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False)`.",
        why=(
            "`optax.adagrad` starts the sum of squares at 0.1 (torch: 0) and adds eps inside the root\n"
            "(torch: outside), so its first steps are much shorter (measured 20 steps at lr 0.1:\n"
            "Δ 3.7e-2). The support transformation `torch_scale_by_adagrad` is torch's rule; `lr_decay`\n"
            "divides the rate by `1 + step * lr_decay` (`optax.scale_by_schedule`); L2 `weight_decay`\n"
            "comes first."
        ),
        example=Example(
            torch="optimizer = optim.Adagrad(model.parameters(), lr=0.1)",
            flax="optimizer = optax.chain(torch_scale_by_adagrad(), optax.scale_by_learning_rate(0.1))",
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations, lr_decay and initial accumulator included: Δ 2.2e-16; float32: 1.2e-7).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("Adagrad has no momentum to cycle (torch raises): pass cycle_momentum=False")
        options = keywords([("initial_accumulator_value", written(ctx, "initial_accumulator_value")), ("eps", written(ctx, "eps"))])
        parts = [*gradient_prefix(ctx), *l2_decay(ctx), f"torch_scale_by_adagrad({options.removeprefix(', ')})"]
        if not is_zero(ctx, "lr_decay"):
            parts.append(f"optax.scale_by_schedule(lambda count: 1 / (1 + count * {src(ctx, 'lr_decay')}))")
        return OptimizerBuild(expression(chain([*parts, scale_by_lr(learning_rate)])), support=((SUPPORT_NAME, SUPPORT),))

    def cases(self):
        @st.composite
        def adagrad_case(draw):
            args = [f"lr={draw(st.sampled_from([0.01, 0.1]))}"]
            for name, values in (("lr_decay", [0.01, 0.1]), ("initial_accumulator_value", [0.1, 1.0]),
                                 ("eps", [1e-10, 1e-3]), ("weight_decay", [1e-3, 0.05])):
                if draw(st.booleans()):
                    args.append(f"{name}={draw(st.sampled_from(values))}")
            return OptimizerCase(f"optim.Adagrad(model.parameters(), {', '.join(args)})")

        return adagrad_case()
