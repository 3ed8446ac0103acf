"""L020's batch statistics are differentiated by ``normalize_by_batch``'s closed form (a custom_jvp):
checked against PyTorch's gradients on every layout the rule emits, and a planted error is caught."""

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rules.base import RuleCase
from translator.rules.normalization import batch_norm

TRAIN_CASES = {
    "features": RuleCase("nn.BatchNorm1d(5)", "torch.tanh(self.layer(x * 3 + 1))", (6, 5), train=True),
    "sequence": RuleCase("nn.BatchNorm1d(3, affine=False)", "self.layer(x).sin()", (4, 3, 7), train=True),
    "image": RuleCase("nn.BatchNorm2d(3, eps=1e-3)", "self.layer(x) ** 2", (2, 3, 4, 5), train=True),
    "volume_untracked": RuleCase("nn.BatchNorm3d(2, track_running_stats=False)", "self.layer(x).exp()", (2, 2, 3, 2, 4)),
}


@pytest.mark.parametrize("case", TRAIN_CASES.values(), ids=TRAIN_CASES.keys())
def test_the_closed_form_derivative_matches_pytorch(case):
    compare_case(case, seed=3)


def test_a_planted_error_in_the_closed_form_is_caught(monkeypatch):
    old = "dnormalized = rstd * (dx - dmean.reshape(shape) - normalized * dspread.reshape(shape))"
    assert old in batch_norm.SUPPORT
    monkeypatch.setattr(batch_norm, "SUPPORT", batch_norm.SUPPORT.replace(old, old.replace("dx - dmean", "dx + dmean")))
    with pytest.raises(AssertionError, match="grad"):
        compare_case(TRAIN_CASES["image"], seed=3)
