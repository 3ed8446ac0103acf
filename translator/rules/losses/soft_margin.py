"""C007 TorchSoftMarginLoss: ``soft_margin_loss`` / ``multilabel_soft_margin_loss`` and their modules."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.losses._support import (
    REDUCTION_NAME,
    REDUCTION_SUPPORT,
    callable_code,
    constant_tensors,
    failed_layer,
    keywords,
    loss_layer,
    read_reduction,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes


def _soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"): ...


SOFT_MARGIN = "torch_soft_margin_loss"
MULTILABEL = "torch_multilabel_soft_margin_loss"
SUPPORT = {
    SOFT_MARGIN: '''
def torch_soft_margin_loss(input, target, reduction="mean"):
    """F.soft_margin_loss / nn.SoftMarginLoss (C007): log(1 + exp(-y x)), written as PyTorch does
    (so it overflows to inf where PyTorch's does, for -y x > 88 in float32)."""
    return torch_loss_reduction(jnp.log1p(jnp.exp(-input * target)), reduction)
''',
    MULTILABEL: '''
def torch_multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """F.multilabel_soft_margin_loss / nn.MultiLabelSoftMarginLoss (C007): the binary cross-entropy of
    each class (last axis), times `weight`, averaged over the classes; then `reduction` over the batch."""
    loss = -(target * jax.nn.log_sigmoid(input) + (1 - target) * jax.nn.log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return torch_loss_reduction(jnp.sum(loss, axis=-1) / input.shape[-1], reduction)
''',
}
#: functional name and module class -> support function
FUNCTIONS = {"soft_margin_loss": SOFT_MARGIN, "SoftMarginLoss": SOFT_MARGIN,
             "multilabel_soft_margin_loss": MULTILABEL, "MultiLabelSoftMarginLoss": MULTILABEL}


@register
class TorchSoftMarginLoss(Rule):
    code = "C007"
    name = "TorchSoftMarginLoss"
    summary = "F.soft_margin_loss / multilabel_soft_margin_loss (weight) and their modules -> torch_*soft_margin_loss"
    torch_functions = ("torch.nn.functional.soft_margin_loss", "torch.nn.functional.multilabel_soft_margin_loss")
    torch_classes = ("torch.nn.SoftMarginLoss", "torch.nn.MultiLabelSoftMarginLoss")
    call_signature = signature_of(_soft_margin_loss)
    tensor_arguments = ("weight",)
    doc = RuleDoc(
        what=(
            "`F.soft_margin_loss(input, target, reduction='mean')` / `nn.SoftMarginLoss` (targets in\n"
            "{1, -1}) and `F.multilabel_soft_margin_loss(input, target, weight=None, reduction='mean')` /\n"
            "`nn.MultiLabelSoftMarginLoss(weight)` (multi-hot targets, classes on the last axis)."
        ),
        why=(
            "optax has neither. The multilabel loss is not the mean of a per-element binary\n"
            "cross-entropy over everything: PyTorch averages over the classes first, then applies\n"
            "`reduction` to one value per example ('sum' sums N values, not N * C). SoftMarginLoss is\n"
            "written as PyTorch writes it, log1p(exp(-y x)), so its overflow is PyTorch's too."
        ),
        example=Example(
            torch="self.criterion = nn.MultiLabelSoftMarginLoss()\nloss = self.criterion(logits, labels)",
            flax="self.criterion = torch_multilabel_soft_margin_loss\nloss = self.criterion(logits, labels)",
        ),
        fidelity="Equal within float32 rounding, outputs and gradients, for every reduction and weight.",
    )

    def arguments(self, ctx, tensor_code=None) -> list[str] | None:
        if read_reduction(ctx) is None:
            return None
        return keywords(ctx, ("weight",), tensor_code) + keywords(ctx, ("reduction",))

    def emit_call(self, ctx):
        fixed = self.arguments(ctx, lambda name: code(ctx, name))
        if fixed is None:
            return emit("None")  # reported
        function = FUNCTIONS[op_name(ctx)]
        ctx.support(function, SUPPORT[function])
        ctx.support(REDUCTION_NAME, REDUCTION_SUPPORT)
        return emit(f"{function}({', '.join([code(ctx, 'input'), code(ctx, 'target'), *fixed])})")

    def build_layer(self, ctx):
        fixed = self.arguments(ctx)
        if fixed is None:
            return failed_layer()
        function = FUNCTIONS[ctx.target.__name__]
        supports = ((function, SUPPORT[function]), (REDUCTION_NAME, REDUCTION_SUPPORT))
        return loss_layer(callable_code(function, fixed), supports, f"{ctx.target.__name__} -> {function}")

    def weight_layout(self, module):
        return constant_tensors(module, ("weight",), self.code)

    def cases(self):
        @st.composite
        def soft_margin_case(draw):
            shape = shapes(draw, min_rank=2, max_rank=2)
            multilabel = draw(st.booleans())
            args = []
            if multilabel and draw(st.booleans()):
                args.append(f"weight=torch.linspace(0.5, 2.0, {shape[-1]})")
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            target = "(x > 0).float()" if multilabel else "torch.where(x > 0.2, 1.0, -1.0)"
            module, function = ("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss") if multilabel else ("SoftMarginLoss", "soft_margin_loss")
            if draw(st.booleans()):
                return RuleCase(f"nn.{module}({', '.join(args)})", f"self.layer(x * 2, {target})", shape)
            return RuleCase(None, f"F.{function}({', '.join(['x * 2', target, *args])})", shape)

        return soft_margin_case()
