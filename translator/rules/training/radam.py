"""O008 TorchRAdam: ``optim.RAdam`` -> ``torch_scale_by_radam`` (torch's threshold and eps placement)."""

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

SUPPORT_NAME = "torch_scale_by_radam"
SUPPORT = '''
def torch_scale_by_radam(b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.RAdam's step direction, learning rate not applied (O008): rectified while
    rho_t > 5, with eps added to sqrt(v) before the bias correction, sqrt(1 - b2**t) / (sqrt(v) + eps)
    (optax.scale_by_radam adds eps after it and rectifies from rho_t >= 5)."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return (jnp.zeros([], jnp.int32), zeros, zeros)

    def update(updates, state, params=None):
        count, mu, nu = state
        step = count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, nu, updates)
        correction1, correction2 = 1 - b1**step, 1 - b2**step
        rho_inf = 2 / (1 - b2) - 1
        rho = rho_inf - 2 * step * b2**step / correction2
        rect = jnp.sqrt(jnp.maximum((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho), 0.0))

        def direction(m, v):
            adaptive = rect * jnp.sqrt(correction2) / (jnp.sqrt(v) + eps)
            return m / correction1 * jnp.where(rho > 5.0, adaptive, 1.0)

        return jax.tree.map(direction, mu, nu), (step, mu, nu)

    return optax.GradientTransformation(init, update)
'''


@register
class TorchRAdam(TrainingRule):
    code = "O008"
    name = "TorchRAdam"
    summary = "optim.RAdam(lr, betas, eps, weight_decay, decoupled_weight_decay) -> torch_scale_by_radam"
    torch_optimizers = ("torch.optim.RAdam",)
    doc = RuleDoc(
        what="`optim.RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, maximize=False)`.",
        why=(
            "torch divides by `sqrt(v) + eps` and multiplies by `sqrt(1 - b2**t)` (eps is scaled by the\n"
            "bias correction), and rectifies only while rho_t > 5; `optax.radam` adds eps to the corrected\n"
            "root and switches at rho_t >= 5 (measured 20 steps with eps=1e-3, b2=0.9: Δ 3.9e-5). The support\n"
            "transformation `torch_scale_by_radam` is torch's rule; `weight_decay` is L2 first, or\n"
            "decoupled after the direction with `decoupled_weight_decay=True`."
        ),
        example=Example(
            torch="optimizer = optim.RAdam(model.parameters(), lr=0.001)",
            flax="optimizer = optax.chain(torch_scale_by_radam(), optax.scale_by_learning_rate(0.001))",
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations: Δ 1.0e-15; float32: 3.4e-5, where the float32 rectification term is near its switch).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("a cycled beta1 (OneCycleLR's cycle_momentum) is not translated for RAdam: pass cycle_momentum=False")
        b1, b2 = pair(ctx, "betas") if not ctx.is_default("betas") else (None, None)
        direction = f"torch_scale_by_radam({keywords([('b1', b1), ('b2', b2), ('eps', written(ctx, 'eps'))]).removeprefix(', ')})"
        parts = decayed_direction(ctx, direction)
        return OptimizerBuild(expression(chain([*parts, scale_by_lr(learning_rate)])), support=((SUPPORT_NAME, SUPPORT),))

    def cases(self):
        @st.composite
        def radam_case(draw):
            args = [f"lr={draw(st.sampled_from([1e-3, 0.02]))}"]
            if draw(st.booleans()):
                args.append(f"betas=({draw(st.sampled_from([0.8, 0.9]))}, {draw(st.sampled_from([0.9, 0.99, 0.999]))})")
            for name, values in (("eps", [1e-8, 1e-3]), ("weight_decay", [1e-3, 0.05]), ("decoupled_weight_decay", [True])):
                if draw(st.booleans()):
                    args.append(f"{name}={draw(st.sampled_from(values))}")
            return OptimizerCase(f"optim.RAdam(model.parameters(), {', '.join(args)})")

        return radam_case()
