"""O011 TorchRprop: ``optim.Rprop`` -> ``torch_rprop`` (torch's sign rule, lr as the first step size)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, OptimizerBuild, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import (
    OptimizerCase,
    TrainingRule,
    expression,
    gradient_prefix,
    keywords,
    pair,
    src,
)

SUPPORT_NAME = "torch_rprop"
SUPPORT = '''
def torch_rprop(learning_rate, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
    """torch.optim.Rprop (O011), the whole update: each parameter's step size starts at `learning_rate`,
    grows by etas[1] while the gradient keeps its sign, shrinks by etas[0] when it flips (that step moves
    nothing and forgets the gradient), clamped to step_sizes; the update is -sign(g) * step size.
    optax.rprop applies the previous step's update (its first update is zero)."""
    eta_minus, eta_plus = etas
    smallest, largest = step_sizes

    def init(params):
        return (jax.tree.map(lambda p: jnp.full_like(p, learning_rate), params), jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        sizes, previous = state
        product = jax.tree.map(lambda g, p: g * p, updates, previous)
        factor = jax.tree.map(lambda s: jnp.where(s > 0, eta_plus, jnp.where(s < 0, eta_minus, 1.0)), product)
        sizes = jax.tree.map(lambda size, f: jnp.clip(size * f, smallest, largest), sizes, factor)
        gradient = jax.tree.map(lambda g, s: jnp.where(s < 0, 0.0, g), updates, product)
        return jax.tree.map(lambda g, size: -jnp.sign(g) * size, gradient, sizes), (sizes, gradient)

    return optax.GradientTransformation(init, update)
'''


@register
class TorchRprop(TrainingRule):
    code = "O011"
    name = "TorchRprop"
    summary = "optim.Rprop(lr, etas, step_sizes) -> torch_rprop (optax.rprop applies the previous step's update)"
    torch_optimizers = ("torch.optim.Rprop",)
    doc = RuleDoc(
        what="`optim.Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False)`.",
        why=(
            "Rprop moves each parameter by its own step size against the gradient's sign; the step size\n"
            "grows while the sign holds and shrinks when it flips, and a flipped step moves nothing.\n"
            "`optax.rprop` returns the update computed at the previous step (its first update is zero),\n"
            "one step behind torch (measured 20 steps: Δ 0.19). The support transformation `torch_rprop`\n"
            "is torch's rule. `lr` is only the first step size: torch's schedulers change `group['lr']`, which Rprop no longer reads, so\n"
            "a schedule is not applied either."
        ),
        example=Example(
            torch="optimizer = optim.Rprop(model.parameters(), lr=0.01)",
            flax="optimizer = torch_rprop(0.01)",
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations: Δ 0; float32: 0).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("Rprop has no momentum to cycle (torch raises): pass cycle_momentum=False")
        etas = None if ctx.is_default("etas") else "({}, {})".format(*pair(ctx, "etas"))
        sizes = None if ctx.is_default("step_sizes") else "({}, {})".format(*pair(ctx, "step_sizes"))
        direction = f"torch_rprop({src(ctx, 'lr')}{keywords([('etas', etas), ('step_sizes', sizes)])})"
        prefix = gradient_prefix(ctx)
        text = f"optax.chain({', '.join([*prefix, direction])})" if prefix else direction
        return OptimizerBuild(expression(text), support=((SUPPORT_NAME, SUPPORT),))

    def cases(self):
        @st.composite
        def rprop_case(draw):
            args = [f"lr={draw(st.sampled_from([0.01, 0.05]))}"]
            if draw(st.booleans()):
                args.append(f"etas=({draw(st.sampled_from([0.3, 0.5]))}, {draw(st.sampled_from([1.1, 1.2]))})")
            if draw(st.booleans()):
                args.append(f"step_sizes=({draw(st.sampled_from([1e-6, 1e-3]))}, {draw(st.sampled_from([0.02, 50]))})")
            return OptimizerCase(f"optim.Rprop(model.parameters(), {', '.join(args)})")

        return rprop_case()
