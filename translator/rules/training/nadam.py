"""O007 TorchNAdam: ``optim.NAdam`` -> ``torch_scale_by_nadam`` (torch's momentum decay schedule)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, OptimizerBuild, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import (
    OptimizerCase,
    TrainingRule,
    chain,
    decayed_direction,
    expression,
    keywords,
    pair,
    scale_by_lr,
    written,
)

SUPPORT_NAME = "torch_scale_by_nadam"
SUPPORT = '''
def torch_scale_by_nadam(b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3):
    """torch.optim.NAdam's step direction, learning rate not applied (O007): the momentum coefficient of
    step t is b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)) and the first moment is corrected by the
    running product of those coefficients (optax.nadam uses a constant b1 and 1 - b1 ** t). The product
    is kept in float32, as torch keeps it."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return (jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32), zeros, zeros)

    def update(updates, state, params=None):
        count, mu_product, mu, nu = state
        step = count + 1
        coefficient = b1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))
        coefficient_next = b1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = mu_product * jnp.asarray(coefficient, jnp.float32)
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, nu, updates)
        correction2 = 1 - b2**step

        def direction(g, m, v):
            product = mu_product.astype(g.dtype)
            denominator = jnp.sqrt(v / correction2) + eps
            return ((1 - coefficient) / (1 - product) * g + coefficient_next / (1 - product * coefficient_next) * m) / denominator

        return jax.tree.map(direction, updates, mu, nu), (step, mu_product, mu, nu)

    return optax.GradientTransformation(init, update)
'''


@register
class TorchNAdam(TrainingRule):
    code = "O007"
    name = "TorchNAdam"
    summary = "optim.NAdam(lr=2e-3, betas, eps, weight_decay, momentum_decay, decoupled_weight_decay) -> torch_scale_by_nadam"
    torch_optimizers = ("torch.optim.NAdam",)
    doc = RuleDoc(
        what=(
            "`optim.NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,\n"
            "momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)`."
        ),
        why=(
            "torch's NAdam (Dozat) warms the momentum coefficient up with `momentum_decay` and corrects\n"
            "the first moment by the product of those coefficients; `optax.nadam` is Adam with a Nesterov\n"
            "look-ahead and a constant b1 (measured 20 steps: Δ 0.10). The support transformation\n"
            "`torch_scale_by_nadam` is torch's rule. `weight_decay` is L2 first, or decoupled after the\n"
            "direction with `decoupled_weight_decay=True` (as AdamW)."
        ),
        example=Example(
            torch="optimizer = optim.NAdam(model.parameters(), lr=0.002)",
            flax="optimizer = optax.chain(torch_scale_by_nadam(), optax.scale_by_learning_rate(0.002))",
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations; the coefficient product kept in float32 as torch keeps it: Δ 1.0e-15; float32: 2.8e-6).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("a cycled beta1 (OneCycleLR's cycle_momentum) is not translated for NAdam: pass cycle_momentum=False")
        b1, b2 = pair(ctx, "betas") if not ctx.is_default("betas") else (None, None)
        options = keywords([("b1", b1), ("b2", b2), ("eps", written(ctx, "eps")), ("momentum_decay", written(ctx, "momentum_decay"))])
        direction = f"torch_scale_by_nadam({options.removeprefix(', ')})"
        parts = decayed_direction(ctx, direction)
        return OptimizerBuild(expression(chain([*parts, scale_by_lr(learning_rate)])), support=((SUPPORT_NAME, SUPPORT),))

    def cases(self):
        @st.composite
        def nadam_case(draw):
            args = [f"lr={draw(st.sampled_from([2e-3, 0.02]))}"]
            if draw(st.booleans()):
                args.append(f"betas=({draw(st.sampled_from([0.8, 0.9]))}, {draw(st.sampled_from([0.99, 0.999]))})")
            for name, values in (("eps", [1e-8, 1e-3]), ("momentum_decay", [4e-3, 0.05]), ("weight_decay", [1e-3, 0.05]),
                                 ("decoupled_weight_decay", [True])):
                if draw(st.booleans()):
                    args.append(f"{name}={draw(st.sampled_from(values))}")
            return OptimizerCase(f"optim.NAdam(model.parameters(), {', '.join(args)})")

        return nadam_case()
