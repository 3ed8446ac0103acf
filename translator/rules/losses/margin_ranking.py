"""C006 TorchMarginRankingLoss: ``F.margin_ranking_loss`` / ``nn.MarginRankingLoss`` -> ``torch_margin_ranking_loss``."""

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


def _margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"): ...


SUPPORT_NAME = "torch_margin_ranking_loss"
SUPPORT = '''
def torch_margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """F.margin_ranking_loss / nn.MarginRankingLoss (C006): max(0, -y (x1 - x2) + margin), where the
    hinge passes the gradient at exactly 0 as PyTorch's clamp_min does."""
    loss = -target * (input1 - input2) + margin
    return torch_loss_reduction(jnp.where(loss >= 0, loss, 0.0), reduction)
'''
SUPPORTS = ((SUPPORT_NAME, SUPPORT), (REDUCTION_NAME, REDUCTION_SUPPORT))


@register
class TorchMarginRankingLoss(SupportFunctionLoss):
    code = "C006"
    name = "TorchMarginRankingLoss"
    summary = "F.margin_ranking_loss / nn.MarginRankingLoss (margin, reduction) -> torch_margin_ranking_loss"
    torch_functions = ("torch.nn.functional.margin_ranking_loss",)
    torch_classes = ("torch.nn.MarginRankingLoss",)
    call_signature = signature_of(_margin_ranking_loss)
    support_name = SUPPORT_NAME
    supports = SUPPORTS
    layer_note = f"MarginRankingLoss -> {SUPPORT_NAME} (three inputs)"
    operands = ("input1", "input2", "target")
    doc = RuleDoc(
        what=(
            "`F.margin_ranking_loss(input1, input2, target, margin=0.0, reduction='mean')` and\n"
            "`nn.MarginRankingLoss(margin=0.0, reduction='mean')`, called with three tensors: the two\n"
            "scores and `target` in {1, -1} (which one should rank higher)."
        ),
        why=(
            "optax has no ranking hinge. The hinge max(0, v) is written with `jnp.where(v >= 0, v, 0)`:\n"
            "PyTorch's `clamp_min` passes the whole gradient at v = 0 exactly, where `jnp.maximum(v, 0)`\n"
            "passes half (ties are common: equal scores with margin 0)."
        ),
        example=Example(
            torch="loss = F.margin_ranking_loss(s1, s2, y, margin=0.5)",
            flax="loss = torch_margin_ranking_loss(s1, s2, y, margin=0.5)  # support function",
        ),
        fidelity="Equal within float32 rounding, outputs and gradients, including at the hinge (v = 0).",
    )

    def arguments(self, ctx, tensor_code=None) -> list[str] | None:
        if read_reduction(ctx) is None:
            return None
        return keywords(ctx, ("margin", "reduction"), tensor_code)

    def cases(self):
        @st.composite
        def margin_ranking_case(draw):
            shape = (2, *shapes(draw, min_rank=1, max_rank=2))
            args = []
            if draw(st.booleans()):
                args.append(f"margin={draw(st.sampled_from([0.0, 0.5]))}")
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            # x.round(): equal scores, so the hinge is met at exactly 0 with margin 0
            operands = "x[0] * 2, x[1].round(), torch.where(x[0] > x[1], 1.0, -1.0)"
            if draw(st.booleans()):
                return RuleCase(f"nn.MarginRankingLoss({', '.join(args)})", f"self.layer({operands})", shape)
            return RuleCase(None, f"F.margin_ranking_loss({', '.join([operands, *args])})", shape)

        return margin_ranking_case()
