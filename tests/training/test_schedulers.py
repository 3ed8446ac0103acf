"""Every scheduler rule against torch.optim.lr_scheduler: torch's ``get_last_lr()`` after each
``scheduler.step()`` (stepped per epoch with a given number of updates per epoch, or per update) against
the translated optax schedule at every update count. Known-wrong optax mappings fail the same harness."""

import pytest
from hypothesis import given

from tests.training.harness import (
    TranslationReported,
    plateau_difference,
    schedule_difference,
    translate_schedule_text,
)
from translator.rules.registry import all_rules
from translator.rules.training._common import ScheduleCase, TrainingRule

SCHEDULE_RULES = [r for r in all_rules() if isinstance(r, TrainingRule) and r.torch_schedulers and r.code != "O042"]
#: the formula, evaluated with float64 counts: rounding only (torch's recursive forms vs closed forms)
EXACT = 1e-13
#: what optax evaluates: its update count is int32 and JAX divides int32 in float32
FLOAT32_COUNT = 3e-7


def optimizer_of(case: ScheduleCase) -> str:
    return case.optimizer.format(base_lr=case.base_lr)


@pytest.mark.parametrize("rule", SCHEDULE_RULES, ids=lambda r: r.code)
def test_schedule_matches_torch_at_every_update(rule):
    @given(case=rule.cases())
    def matches(case: ScheduleCase):
        optimizer = optimizer_of(case)
        assert schedule_difference(case.torch, optimizer, case.epochs, case.steps_per_epoch) <= EXACT, case
        assert schedule_difference(case.torch, optimizer, case.epochs, case.steps_per_epoch, count_dtype="int32") <= FLOAT32_COUNT

    matches()


def test_reduce_on_plateau_matches_torch_every_epoch():
    rule = next(r for r in all_rules() if r.code == "O042")

    @given(case=rule.cases())
    def matches(case: ScheduleCase):
        # torch skips reductions smaller than its eps=1e-8 (absolute): the only difference left
        assert plateau_difference(case.torch, optimizer_of(case), case.epochs) <= 2 * 1e-8 / case.base_lr, case

    matches()


SGD = "optim.SGD(model.parameters(), lr=0.1, momentum=0.9)"
#: (torch scheduler, steps per epoch, epochs, a wrong optax mapping, the smallest relative difference it must show)
WRONG_MAPPINGS = [
    ("lr_scheduler.CosineAnnealingLR(optimizer, T_max=4, eta_min=0.01)", None, 13, "optax.cosine_decay_schedule(0.1, 4, alpha=0.01)", 0.5),
    ("lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)", 3, 9, "optax.exponential_decay(0.1, 9, 0.1)", 0.3),
    ("lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=20)", None, 20, "optax.cosine_onecycle_schedule(20, 0.1)", 0.01),
    ("lr_scheduler.ExponentialLR(optimizer, gamma=0.9)", 3, 6, "optax.exponential_decay(0.1, 1, 0.9, staircase=True)", 0.1),
]


@pytest.mark.parametrize("torch_text, steps_per_epoch, epochs, wrong, at_least", WRONG_MAPPINGS, ids=range(len(WRONG_MAPPINGS)))
def test_the_harness_fails_a_wrong_schedule(torch_text, steps_per_epoch, epochs, wrong, at_least):
    assert schedule_difference(torch_text, SGD, epochs, steps_per_epoch) <= EXACT
    assert schedule_difference(torch_text, SGD, epochs, steps_per_epoch, optax_text=wrong) >= at_least


def test_reduce_on_plateau_patience_is_one_more_in_optax():
    torch_text = "lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)"
    assert plateau_difference(torch_text, SGD, 40) <= 1e-15
    assert plateau_difference(torch_text, SGD, 40, optax_text="optax.contrib.reduce_on_plateau(factor=0.5, patience=2)") >= 0.1


def test_reduce_on_plateau_asks_for_the_metric():
    translated, _ = translate_schedule_text("lr_scheduler.ReduceLROnPlateau(optimizer, patience=3)", SGD, None)
    assert translated.schedule is None and translated.needs_value and translated.transform is not None


@pytest.mark.parametrize("rule", [r for r in all_rules() if isinstance(r, TrainingRule) and r.flagged_calls], ids=lambda r: r.code)
def test_untranslated_schedulers_are_reported_with_the_rule_code(rule):
    for call in rule.flagged_calls:
        if "lr_scheduler" not in call:
            continue
        with pytest.raises(TranslationReported, match=rf"script\.py:\d+:\d+: {rule.code} "):
            translate_schedule_text(call, SGD, 3)


def test_optax_polynomial_schedule_is_nan_under_jit_where_torch_reaches_zero():
    torch_text = "lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=0.5)"
    assert schedule_difference(torch_text, SGD, 8, None) <= EXACT
    wrong = schedule_difference(torch_text, SGD, 8, None, optax_text="optax.polynomial_schedule(0.1, 0.0, 0.5, 5)")
    assert wrong != wrong  # nan


def test_sequential_lr_reads_schedulers_assigned_to_names():
    import libcst as cst

    from tests.training.harness import PRELUDE, _first_call
    from translator.rewrite.context import code_of
    from translator.training.optim import translate_schedule

    source = (f"{PRELUDE}warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3)\n"
              "decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)\n"
              "scheduler = lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, decay], milestones=[3])\n")
    file, call = _first_call(source)
    definitions = {s.body[0].targets[0].target.value: s.body[0].value for s in file.resolved.module.body[-3:-1]}
    translated = translate_schedule(call, file, base_learning_rate=cst.Float("0.1"), steps_per_epoch=cst.Name("steps_per_epoch"),
                                    definitions=definitions)
    assert not file.diagnostics and translated is not None
    inline = ("lr_scheduler.SequentialLR(optimizer, schedulers=[lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3), "
              "lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)], milestones=[3])")
    assert code_of(translated.schedule) == code_of(translate_schedule_text(inline, SGD, "steps_per_epoch")[0].schedule)
    file, call = _first_call(source)
    assert translate_schedule(call, file, base_learning_rate=cst.Float("0.1"), steps_per_epoch=None) is None
    assert {d.code for d in file.diagnostics} == {"O041"}  # one per unread name
