"""S005: the forms that decide how the shared Sequential runner (`run_sequential`) is used, on every run.

The catalogue draws some of S005's cases each run; these compare with PyTorch each form that
chooses a different shape of code: one loop for the whole chain (channels-last in and out), runs
folded inside a chain whose layout changes, a layer the loop must not run (a batch norm that takes
no flag beside one that does), a nested Sequential, and Sequentials chosen at run time.
"""

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase

FEED_FORWARD = "def FeedForward(dim):\n    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(0.1))\n"
CASES = {
    "one_loop_with_flags": RuleCase(
        "nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.2), nn.Conv2d(4, 2, 1))",
        "self.layer(x).mean((2, 3))", (2, 3, 4, 4),
    ),
    "layout_change_inside": RuleCase(
        "nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2), nn.Tanh())",
        "self.layer(x)", (2, 3, 4, 4),
    ),
    "conflicting_flags": RuleCase(
        "nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False), nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Tanh())",
        "self.layer(x)", (4, 3),
    ),
    "nested": RuleCase(
        "nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 4)), nn.Tanh(), nn.Linear(4, 3))",
        "self.layer(x)", (2, 3),
    ),
    "elements_at_run_time": RuleCase(
        "nn.ModuleList([nn.ModuleList([nn.Linear(3, 3), FeedForward(3)]) for _ in range(2)])",
        "sum(ff(lin(x)) for lin, ff in self.layer)", (2, 3), prelude=FEED_FORWARD,
    ),
    "built_at_run_time": RuleCase("nn.Sequential(*[nn.Linear(3, 3) for _ in range(3)])", "self.layer(x)", (2, 3)),
}


@pytest.mark.parametrize("name", CASES)
def test_sequential_form_matches_pytorch(name):
    compare_case(CASES[name])


def translate(init: str, call: str = "self.layer(x)") -> str:
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"        self.layer = {init}\n\n    def forward(self, x):\n        return {call}\n"
    )
    translation = translate_source(source, "net.py")
    assert translation.ok, translation.diagnostics
    return translation.code


def test_a_stack_of_convolutions_is_one_loop_channels_last_in_and_out():
    code = translate("nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.1))")
    assert "run_sequential(self.layer, jnp.transpose(x, (0, 2, 3, 1)), train=train)" in code
    assert "def _run_layer" not in code and "self.layer[0]" not in code
    assert "isinstance(layer, TorchBatchNorm)" in code and "isinstance(layer, nn.Dropout)" in code


def test_a_layout_change_inside_keeps_a_method_whose_runs_are_folded():
    code = translate("nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2), nn.Tanh())")
    assert "def _run_layer(self, x):" in code
    assert "x = run_sequential(self.layer[:2], jnp.transpose(x, (0, 2, 3, 1)))" in code
    assert "x = run_sequential(self.layer[3:], x)" in code


def test_layers_that_all_take_the_same_call_need_no_isinstance_test():
    code = translate("nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))")
    assert "isinstance" not in code and "run_sequential(self.layer, x)" in code


def test_batch_norms_that_take_the_flag_and_do_not_are_not_run_by_one_loop():
    """The loop gives one class one call: the second batch norm (with running stats) is called by itself."""
    code = translate(CASES["conflicting_flags"].init)
    assert "x = run_sequential(self.layer[:2], x)" in code
    assert "x = self.layer[2](x, use_running_average=not train)" in code
    assert "isinstance" not in code
