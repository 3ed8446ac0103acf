"""C003 TorchBinaryCrossEntropy: ``F.binary_cross_entropy`` / ``nn.BCELoss`` -> ``torch_binary_cross_entropy``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, RuleCase, RuleDoc, signature_of
from translator.rules.losses._support import (
    REDUCTION_NAME,
    REDUCTION_SUPPORT,
    SupportFunctionLoss,
    keywords,
    read_reduction,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import shapes


def _binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"): ...


SUPPORT_NAME = "torch_binary_cross_entropy"
SUPPORT = '''
@jax.custom_vjp
def torch_binary_cross_entropy_elementwise(input, target):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 (C003): PyTorch's forward and backward."""
    return (target - 1) * jnp.maximum(jnp.log1p(-input), -100.0) - target * jnp.maximum(jnp.log(input), -100.0)


def _binary_cross_entropy_forward(input, target):
    return torch_binary_cross_entropy_elementwise(input, target), (input, target)


def _binary_cross_entropy_backward(residuals, grad):
    input, target = residuals
    # PyTorch's own formulas: (x - t) / max(x (1 - x), 1e-12) for the input, -logit(x) for the target
    grad_input = grad * (input - target) / jnp.maximum((1 - input) * input, 1e-12)
    grad_target = grad * (jnp.log1p(-input) - jnp.log(input))
    return grad_input, grad_target


torch_binary_cross_entropy_elementwise.defvjp(_binary_cross_entropy_forward, _binary_cross_entropy_backward)


def torch_binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """F.binary_cross_entropy / nn.BCELoss (C003): probabilities in [0, 1], `weight` broadcast elementwise."""
    loss = torch_binary_cross_entropy_elementwise(input, target)
    if weight is not None:
        loss = loss * weight
    return torch_loss_reduction(loss, reduction)
'''
SUPPORTS = ((SUPPORT_NAME, SUPPORT), (REDUCTION_NAME, REDUCTION_SUPPORT))


@register
class TorchBinaryCrossEntropy(SupportFunctionLoss):
    code = "C003"
    name = "TorchBinaryCrossEntropy"
    summary = "F.binary_cross_entropy / nn.BCELoss (weight, reduction) -> torch_binary_cross_entropy (logs clamped at -100)"
    torch_functions = ("torch.nn.functional.binary_cross_entropy",)
    torch_classes = ("torch.nn.BCELoss",)
    call_signature = signature_of(_binary_cross_entropy)
    tensor_arguments = ("weight",)
    support_name = SUPPORT_NAME
    supports = SUPPORTS
    layer_note = f"BCELoss -> {SUPPORT_NAME}: PyTorch's clamped logs and backward"
    constant_tensor_names = ("weight",)
    doc = RuleDoc(
        what=(
            "`F.binary_cross_entropy(input, target, weight=None, reduction='mean')` and\n"
            "`nn.BCELoss(weight=None, reduction='mean')`: `input` holds probabilities (after a sigmoid),\n"
            "`target` numbers in [0, 1]; `weight` broadcasts against the elementwise loss."
        ),
        why=(
            "PyTorch clamps each log at -100, so a probability of exactly 0 or 1 gives a loss of 100\n"
            "instead of inf, and its backward is its own formula, (x - t) / max(x (1 - x), 1e-12): the\n"
            "autodiff of the clamped forward would give nan there (0 * inf). `optax.sigmoid_binary_cross_entropy`\n"
            "takes logits, not probabilities, and does not reduce. The support function keeps PyTorch's\n"
            "forward and, through `jax.custom_vjp`, its backward. (Prefer BCEWithLogitsLoss, C004:\n"
            "it is stable where sigmoid saturates.)"
        ),
        example=Example(
            torch="loss = F.binary_cross_entropy(torch.sigmoid(x), y)",
            flax="loss = torch_binary_cross_entropy(nn.sigmoid(x), y)  # support function",
        ),
        fidelity=(
            "Equal within float32 rounding, outputs and gradients (input and target), for every reduction\n"
            "and weight; at a probability of exactly 0 or 1 both give the clamped 100 and PyTorch's finite\n"
            "input gradient. An input outside [0, 1] raises in PyTorch and gives nan here."
        ),
    )

    def arguments(self, ctx, tensor_code=None) -> list[str] | None:
        if read_reduction(ctx) is None:
            return None
        return keywords(ctx, ("weight",), tensor_code) + keywords(ctx, ("reduction",))

    def cases(self):
        @st.composite
        def binary_cross_entropy_case(draw):
            shape = shapes(draw, min_rank=1, max_rank=3)
            # targets: hard labels, soft labels, or the probabilities themselves (gradient through the target)
            target = draw(st.sampled_from(["(x > 0).float()", "torch.sigmoid(x * 0.3).detach()", "torch.sigmoid(x * 0.3)"]))
            args = []
            if draw(st.booleans()):
                args.append(f"weight=torch.linspace(0.5, 2.0, {shape[-1]})")
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            if draw(st.booleans()):
                return RuleCase(f"nn.BCELoss({', '.join(args)})", f"self.layer(torch.sigmoid(x), {target})", shape)
            return RuleCase(None, f"F.binary_cross_entropy({', '.join(['torch.sigmoid(x)', target, *args])})", shape)

        return binary_cross_entropy_case()
