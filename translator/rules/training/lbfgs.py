"""O010 TorchLBFGS: ``optim.LBFGS`` is reported: its closure-driven ``step`` has no optax counterpart."""

from __future__ import annotations

from translator.rules.base import Example, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import TrainingRule


@register
class TorchLBFGS(TrainingRule):
    code = "O010"
    name = "TorchLBFGS"
    summary = "optim.LBFGS is reported: optimizer.step(closure) runs up to max_iter inner iterations"
    torch_optimizers = ("torch.optim.LBFGS",)
    flagged_calls = ("optim.LBFGS(model.parameters(), lr=1, max_iter=20)",)
    doc = RuleDoc(
        what="`optim.LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100, line_search_fn=None)`.",
        why=(
            "torch's `step(closure)` re-evaluates the loss up to `max_iter` times per call, with a fixed\n"
            "step `lr` (or a strong-Wolfe line search) and its own stopping tolerances. `optax.lbfgs` is\n"
            "one update per call, takes the loss and a `value_fn` for its zoom line search, and stops\n"
            "nowhere: the two runs differ from the first step. The call is reported; write the loop with\n"
            "`optax.lbfgs()` and `optax.value_and_grad_from_state` by hand."
        ),
        example=Example(
            torch="optimizer = optim.LBFGS(model.parameters(), lr=1)",
            flax="optimizer = optax.lbfgs()  # reported: written by hand, not translated",
        ),
        fidelity="Not translated (reported at the call).",
    )

    def build_optimizer(self, ctx, learning_rate, momentum=None):
        ctx.unsupported(
            "optim.LBFGS is not translated: its step(closure) runs up to max_iter inner iterations with its own "
            "tolerances; optax.lbfgs makes one update per call (with optax.value_and_grad_from_state)"
        )
        raise_unsupported = None
        return raise_unsupported
