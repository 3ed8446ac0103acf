"""C002 TorchRegressionLossModule: ``nn.MSELoss`` / ``L1Loss`` / ``SmoothL1Loss`` / ``HuberLoss`` -> T050's loss, as a callable."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.losses._support import failed_layer, loss_layer
from translator.rules.registry import register
from translator.rules.tensor_ops._common import shapes
from translator.rules.tensor_ops.regression_losses import (
    regression_loss_arguments,
    regression_loss_code,
)

#: module class -> the functional loss it computes (T050's names)
FUNCTIONAL = {"MSELoss": "mse_loss", "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss", "HuberLoss": "huber_loss"}


@register
class TorchRegressionLossModule(Rule):
    code = "C002"
    name = "TorchRegressionLossModule"
    summary = "nn.MSELoss / L1Loss / SmoothL1Loss(beta) / HuberLoss(delta) -> lambda input, target: <T050's jnp loss>"
    torch_classes = tuple(f"torch.nn.{name}" for name in FUNCTIONAL)
    doc = RuleDoc(
        what=(
            "`nn.MSELoss(reduction='mean')`, `nn.L1Loss`, `nn.SmoothL1Loss(reduction, beta=1.0)` and\n"
            "`nn.HuberLoss(reduction, delta=1.0)` held by a model or a training script; the deprecated\n"
            "`size_average`/`reduce` are reported."
        ),
        why=(
            "The module becomes the pure function `(input, target) -> loss` of its functional form\n"
            "(T050: the loss written out in `jnp`, PyTorch's zero gradient at zero error). It is not\n"
            "`optax.l2_loss`: that one is 0.5 * (input - target)**2 and does not reduce, so\n"
            "`jnp.mean(optax.l2_loss(p, t))` is half of `nn.MSELoss()(p, t)` and its gradients are half\n"
            "too (measured: ratio 0.5000, outputs and gradients, on random (8, 3) inputs, so a learning rate tuned for PyTorch\n"
            "trains twice as slowly). `optax.huber_loss(p, t, delta)` is HuberLoss elementwise; SmoothL1\n"
            "is Huber divided by beta."
        ),
        example=Example(
            torch="self.criterion = nn.MSELoss()\nloss = self.criterion(pred, target)",
            flax="self.criterion = lambda input, target: jnp.mean(jnp.square(input - target))\nloss = self.criterion(pred, target)",
        ),
        fidelity=(
            "Equal within float32 rounding (the mean sums in another order), gradients too, including\n"
            "at zero error. Measured against optax: mean(optax.l2_loss) / MSELoss = 0.5 exactly."
        ),
    )

    def build_layer(self, ctx):
        op = FUNCTIONAL[ctx.target.__name__]
        arguments = regression_loss_arguments(ctx, op)
        if arguments is None:
            return failed_layer()
        reduction, k = arguments
        callable_source = f"lambda input, target: {regression_loss_code(op, reduction, k, 'input', 'target')}"
        return loss_layer(callable_source, (), f"{ctx.target.__name__} -> the function of its F.{op} (T050), written out in jnp")

    def cases(self):
        @st.composite
        def regression_loss_case(draw):
            module = draw(st.sampled_from(sorted(FUNCTIONAL)))
            args = []
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            if module == "SmoothL1Loss" and draw(st.booleans()):
                args.append(f"beta={draw(st.sampled_from([0.0, 0.5, 2.0]))}")
            if module == "HuberLoss" and draw(st.booleans()):
                args.append(f"delta={draw(st.sampled_from([0.5, 2.0]))}")
            target = draw(st.sampled_from(["x.round()", "torch.tanh(x)", "x * 0.5 + 0.25"]))  # round: exact zero errors
            if draw(st.booleans()):  # layout: a channels-last (pooled) input goes back to NCHW
                return RuleCase(f"nn.{module}({', '.join(args)})", f"self.layer(F.avg_pool2d(x, 1) * 1.5, {target})", (1, 2, 3, 3))
            return RuleCase(f"nn.{module}({', '.join(args)})", f"self.layer(x * 1.5, {target})", shapes(draw))

        return regression_loss_case()
