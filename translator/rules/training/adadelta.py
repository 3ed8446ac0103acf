"""O009 TorchAdadelta: ``optim.Adadelta`` -> ``chain(add_decayed_weights, scale_by_adadelta, lr)``."""

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
    keywords,
    l2_decay,
    scale_by_lr,
    written,
)


@register
class TorchAdadelta(TrainingRule):
    code = "O009"
    name = "TorchAdadelta"
    summary = "optim.Adadelta(lr=1.0, rho, eps, weight_decay) -> chain(add_decayed_weights, scale_by_adadelta, lr)"
    torch_optimizers = ("torch.optim.Adadelta",)
    doc = RuleDoc(
        what="`optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)`.",
        why=(
            "`optax.scale_by_adadelta` is torch's rule (both put eps inside both roots). torch's learning\n"
            "rate defaults to 1.0 and is always written (optax's `adadelta` takes None: no scaling);\n"
            "`weight_decay` is L2 added to the gradient first."
        ),
        example=Example(
            torch="optimizer = optim.Adadelta(model.parameters(), weight_decay=1e-4)",
            flax=(
                "optimizer = optax.chain(optax.add_decayed_weights(1e-4), optax.scale_by_adadelta(), "
                "optax.scale_by_learning_rate(1.0))"
            ),
        ),
        fidelity="Exact (20 steps, float64 on both sides, 12 drawn configurations: Δ 3.3e-16; float32: 2.5e-7).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        if momentum is not None:
            ctx.unsupported("Adadelta has no momentum to cycle (torch raises): pass cycle_momentum=False")
        options = keywords([("rho", written(ctx, "rho")), ("eps", written(ctx, "eps"))]).removeprefix(", ")
        parts = [*gradient_prefix(ctx), *l2_decay(ctx), f"optax.scale_by_adadelta({options})"]
        return OptimizerBuild(expression(chain([*parts, scale_by_lr(learning_rate)])))

    def cases(self):
        @st.composite
        def adadelta_case(draw):
            args = [f"lr={draw(st.sampled_from([1.0, 0.5]))}"]
            for name, values in (("rho", [0.9, 0.95]), ("eps", [1e-6, 1e-3]), ("weight_decay", [1e-3, 0.05])):
                if draw(st.booleans()):
                    args.append(f"{name}={draw(st.sampled_from(values))}")
            return OptimizerCase(f"optim.Adadelta(model.parameters(), {', '.join(args)})")

        return adadelta_case()
