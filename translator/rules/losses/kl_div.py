"""C005 TorchKLDiv: ``F.kl_div`` / ``nn.KLDivLoss`` (reduction 'mean' vs 'batchmean', log_target) -> ``torch_kl_div``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, RuleCase, RuleDoc, signature_of
from translator.rules.losses._support import (
    REDUCTION_NAME,
    REDUCTION_SUPPORT,
    REDUCTIONS,
    SupportFunctionLoss,
    constant,
    keywords,
    read_reduction,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import shapes


def _kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False): ...


SUPPORT_NAME = "torch_kl_div"
SUPPORT = '''
def torch_kl_div(input, target, reduction="mean", log_target=False):
    """F.kl_div / nn.KLDivLoss (C005): `input` is log q, `target` is p (log p with `log_target`);
    elementwise p (log p - log q), 0 where p = 0. 'mean' divides by every element, 'batchmean'
    (the KL divergence) by the batch size only."""
    if log_target:
        loss = jnp.exp(target) * (target - input)
    else:
        loss = jax.scipy.special.xlogy(target, target) - target * input
    if reduction == "batchmean":
        return jnp.sum(loss) / (input.shape[0] if input.ndim else 1)
    return torch_loss_reduction(loss, reduction)
'''
SUPPORTS = ((SUPPORT_NAME, SUPPORT), (REDUCTION_NAME, REDUCTION_SUPPORT))
MEAN_NOTE = (
    "KLDiv reduction='mean' averages over every element (PyTorch warns): the KL divergence of a batch "
    "is reduction='batchmean'; translated as written"
)


@register
class TorchKLDiv(SupportFunctionLoss):
    code = "C005"
    name = "TorchKLDiv"
    summary = "F.kl_div / nn.KLDivLoss (reduction mean|batchmean|sum|none, log_target) -> torch_kl_div"
    torch_functions = ("torch.nn.functional.kl_div",)
    torch_classes = ("torch.nn.KLDivLoss",)
    call_signature = signature_of(_kl_div)
    support_name = SUPPORT_NAME
    supports = SUPPORTS
    layer_note = f"KLDivLoss -> {SUPPORT_NAME}: input is log q, target p"
    doc = RuleDoc(
        what=(
            "`F.kl_div(input, target, reduction='mean', log_target=False)` and\n"
            "`nn.KLDivLoss(reduction='mean', log_target=False)`: `input` holds log-probabilities,\n"
            "`target` probabilities (log-probabilities with `log_target=True`), as in distillation."
        ),
        why=(
            "The arguments are the other way round from the KL divergence's usual notation: the\n"
            "*target* is p, the *input* log q. PyTorch's default reduction 'mean' divides the sum by\n"
            "every element, not by the batch: for (N, C) inputs it is 'batchmean' / C (measured: 10.0x\n"
            "smaller for C = 10), so a distillation loss written with the default is C times too small;\n"
            "the translation keeps what was written and notes it. `optax.kl_divergence(log_predictions,\n"
            "targets)` sums over the last axis per example: its mean over the batch is 'batchmean' for\n"
            "2-D inputs only. p log p is 0 where p = 0 (xlogy), as in PyTorch."
        ),
        example=Example(
            torch="loss = F.kl_div(F.log_softmax(x, dim=1), p, reduction='batchmean')",
            flax="loss = torch_kl_div(nn.log_softmax(x, axis=1), p, reduction='batchmean')  # support function",
        ),
        fidelity=(
            "Equal within float32 rounding, outputs and gradients, for every reduction and log_target.\n"
            "Measured: 'batchmean' / 'mean' = C (10.000 for (8, 10) inputs); `mean(optax.kl_divergence)`\n"
            "over the batch equals 'batchmean' for those 2-D inputs (1.14815 both)."
        ),
    )

    def arguments(self, ctx, tensor_code=None) -> list[str] | None:
        reduction = read_reduction(ctx, (*REDUCTIONS, "batchmean"))
        if reduction is None or not constant(ctx, "log_target"):
            return None
        if reduction == "mean":
            ctx.note(MEAN_NOTE)
        return keywords(ctx, ("reduction", "log_target"))

    def cases(self):
        @st.composite
        def kl_div_case(draw):
            shape = shapes(draw, min_rank=2, max_rank=3)
            log_target = draw(st.booleans())
            # the target's gradient flows too (a distillation teacher that is trained)
            target = "F.log_softmax(x * 0.5 + 1, dim=1)" if log_target else "torch.softmax(x * 0.5 + 1, dim=1)"
            args = []
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'batchmean', 'sum', 'none']))!r}")
            if log_target:
                args.append("log_target=True")
            if draw(st.booleans()):
                return RuleCase(f"nn.KLDivLoss({', '.join(args)})", f"self.layer(F.log_softmax(x * 2, dim=1), {target})", shape)
            return RuleCase(None, f"F.kl_div({', '.join(['F.log_softmax(x * 2, dim=1)', target, *args])})", shape)

        return kl_div_case()
