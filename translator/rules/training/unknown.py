"""O000 UnknownTrainingConstruct: an optimizer, scheduler or gradient function no training rule translates."""

from __future__ import annotations

from translator.rules.base import Example, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import UNKNOWN, TrainingRule


@register
class UnknownTrainingConstruct(TrainingRule):
    code = UNKNOWN
    name = "UnknownTrainingConstruct"
    summary = "a torch.optim optimizer or scheduler with no optax translation yet (ASGD, SparseAdam, MultiplicativeLR, ChainedScheduler, ...) is reported"
    flagged_calls = (
        "optim.ASGD(model.parameters(), lr=0.01)",
        "lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(optimizer, 0.9)], optimizer=optimizer)",
        "lr_scheduler.MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.95)",
    )
    doc = RuleDoc(
        what="Constructor calls of `torch.optim` classes (and clipping functions) that no training rule claims.",
        why=(
            "An optimizer or scheduler passed through unchanged would not run under JAX, and guessing an\n"
            "optax counterpart by name is how silent differences start (optax.nadam is not torch's\n"
            "NAdam). The call is reported at its line; the training rules (`torch2flax rules O001`...)\n"
            "list what translates."
        ),
        example=Example(torch="optimizer = optim.ASGD(model.parameters(), lr=0.01)", flax="optimizer = ...  # reported: O000"),
        fidelity="Not translated (reported at the call).",
    )
