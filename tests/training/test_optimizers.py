"""Every optimizer rule, step by step against torch.optim: the optax code the translator emits (exec'd)
takes 20 float64 updates from the same parameters and gradients as torch's optimizer and must end within
float64 rounding of it. The known-wrong mappings fail the same harness, so it can fail."""

import libcst.matchers as m
import pytest
from hypothesis import given

from tests.training.harness import (
    TranslationReported,
    optimizer_difference,
    translate_optimizer_text,
)
from translator.rewrite.context import code_of
from translator.rules.registry import all_rules
from translator.rules.training._common import OptimizerCase, TrainingRule

OPTIMIZER_RULES = [r for r in all_rules() if isinstance(r, TrainingRule) and (r.torch_optimizers or r.torch_gradient_functions)
                   and r.code != "O010"]
#: float64 after 20 steps, relative to max(1, |param|): a few ulps of the largest parameter
EXACT = 1e-12


@pytest.mark.parametrize("rule", OPTIMIZER_RULES, ids=lambda r: r.code)
def test_optimizer_matches_torch_step_by_step(rule):
    @given(case=rule.cases())
    def matches(case: OptimizerCase):
        assert optimizer_difference(case.torch, case.steps, clip_text=case.clip) <= case.tolerance, case

    matches()


#: (torch constructor, a wrong optax mapping of it, the smallest difference it must show)
WRONG_MAPPINGS = [
    ("optim.Adam(model.parameters(), lr=0.05, eps=1e-3)", "optax.adam(0.05, eps=0.0, eps_root=1e-3)", 1e-4),
    ("optim.Adam(model.parameters(), lr=0.05, weight_decay=0.1)", "optax.adamw(0.05, weight_decay=0.1)", 1e-3),
    ("optim.AdamW(model.parameters(), lr=0.05)", "optax.adamw(0.05)", 1e-3),
    ("optim.Adam(model.parameters(), lr=0.05, amsgrad=True)", "optax.amsgrad(0.05)", 1e-2),
    ("optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01)",
     "optax.chain(optax.trace(decay=0.9), optax.add_decayed_weights(0.01), optax.scale_by_learning_rate(0.05))", 1e-2),
    ("optim.SGD(model.parameters(), lr=0.05, momentum=0.9, dampening=0.5)", "optax.sgd(0.05, momentum=0.9)", 1e-2),
    ("optim.RMSprop(model.parameters(), lr=0.01)", "optax.rmsprop(0.01)", 1e-2),
    ("optim.Adagrad(model.parameters(), lr=0.1)", "optax.adagrad(0.1)", 1e-2),
    ("optim.NAdam(model.parameters(), lr=0.02)", "optax.nadam(0.02)", 1e-2),
    ("optim.RAdam(model.parameters(), lr=0.02, betas=(0.9, 0.9), eps=1e-3)", "optax.radam(0.02, b2=0.9, eps=1e-3)", 1e-5),
    ("optim.Adamax(model.parameters(), weight_decay=0.05)", "optax.adamaxw(0.002, weight_decay=0.05)", 1e-5),
    ("optim.Rprop(model.parameters(), lr=0.01)", "optax.rprop(0.01)", 1e-2),
]


@pytest.mark.parametrize("torch_text, wrong, at_least", WRONG_MAPPINGS, ids=[w[1].split("(")[0] + str(i) for i, w in enumerate(WRONG_MAPPINGS)])
def test_the_harness_fails_a_wrong_mapping(torch_text, wrong, at_least):
    assert optimizer_difference(torch_text) <= EXACT
    assert optimizer_difference(torch_text, optax_text=wrong) >= at_least


def test_clip_by_global_norm_is_not_torchs_clip():
    clip = "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)"
    optimizer = "optim.SGD(model.parameters(), lr=0.05, momentum=0.9)"
    assert optimizer_difference(optimizer, clip_text=clip) <= EXACT
    wrong = "optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.05, momentum=0.9))"
    assert optimizer_difference(optimizer, clip_text=clip, optax_text=wrong) > 1e-8


@pytest.mark.parametrize("optimizer", ["optim.SGD(model.parameters(), lr=0.05, momentum=0.9)", "optim.SGD(model.parameters(), lr=0.05)",
                                       "optim.Adam(model.parameters(), lr=0.01)", "optim.AdamW(model.parameters(), amsgrad=True)"])
def test_one_cycle_cycles_the_momentum_too(optimizer):
    """OneCycleLR's default cycle_momentum=True changes SGD's momentum / Adam's beta1 every step. The
    schedule drives the rate in float32 (optax's int32 count), hence the float32-level bound."""
    schedule = "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=20)"
    assert optimizer_difference(optimizer, schedule_text=schedule) <= 1e-7
    if "momentum=0.9" in optimizer:  # the rate alone, the momentum left constant
        wrong = "optax.sgd(torch_one_cycle(20, 0.1 / 25.0, 0.1, 0.1 / 25.0 / 10000.0), momentum=0.9)"
        assert optimizer_difference(optimizer, schedule_text=schedule, optax_text=wrong) > 1e-2


def test_rmsprop_momentum_comes_before_a_scheduled_rate():
    optimizer = "optim.RMSprop(model.parameters(), lr=0.01, momentum=0.9)"
    schedule = "lr_scheduler.StepLR(optimizer, step_size=5)"
    assert optimizer_difference(optimizer, schedule_text=schedule) <= 1e-7
    after = ("optax.rmsprop(optax.exponential_decay(0.01, transition_steps=5, decay_rate=0.1, staircase=True), decay=0.99, "
             "eps=1e-8, eps_in_sqrt=False, momentum=0.9)")
    assert optimizer_difference(optimizer, schedule_text=schedule, optax_text=after) > 0.1


def test_float32_stays_within_float32_rounding():
    for text in ("optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01)", "optim.Adam(model.parameters(), lr=0.01)"):
        assert optimizer_difference(text, dtype="float32") <= 1e-5


PARAM_GROUPS = [
    # (constructor, the optax text it must contain)
    ("optim.SGD([{'params': model.fc.parameters(), 'lr': 0.1}, {'params': model.head.parameters()}], lr=0.01, momentum=0.9)",
     '"frozen": optax.set_to_zero()'),
    ("optim.Adam(model.fc.parameters(), lr=0.01)", "path[:1] == ('fc',)"),
    ("optim.AdamW([{'params': [p for n, p in model.named_parameters() if 'bias' not in n]}, "
     "{'params': [p for n, p in model.named_parameters() if 'bias' in n], 'weight_decay': 0.0}], lr=0.01)",
     "'bias' not in \".\".join(path)"),
    ("optim.SGD(list(model.fc.parameters()) + list(model.head.parameters()), lr=0.05)", "path[:1] == ('head',)"),
    ("optim.Adam([p for p in model.parameters() if p.ndim > 1], lr=0.01)", "leaf.ndim > 1"),
    ("optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)", "optax.adam(0.01)"),
]


@pytest.mark.parametrize("torch_text, emitted", PARAM_GROUPS, ids=range(len(PARAM_GROUPS)))
def test_parameter_groups_update_what_torch_updates(torch_text, emitted):
    code, _ = translate_optimizer_text(torch_text)
    assert emitted in code, code
    assert optimizer_difference(torch_text) <= EXACT


def test_a_filter_naming_torchs_weight_is_reported():
    with pytest.raises(TranslationReported, match="O021.*kernel"):
        translate_optimizer_text("optim.Adam([p for n, p in model.named_parameters() if 'weight' in n])")
    with pytest.raises(TranslationReported, match="O021"):
        translate_optimizer_text("optim.Adam(params)")


@pytest.mark.parametrize("rule", [r for r in all_rules() if isinstance(r, TrainingRule) and r.flagged_calls and r.torch_optimizers
                                  or r.code == "O000"], ids=lambda r: r.code)
def test_untranslated_optimizers_are_reported_with_the_rule_code(rule):
    for call in rule.flagged_calls:
        if "lr_scheduler" in call:
            continue  # schedulers: tests/training/test_schedulers.py
        with pytest.raises(TranslationReported, match=rf"script\.py:\d+:\d+: {rule.code} "):
            translate_optimizer_text(call)


@pytest.mark.parametrize("schedule", ["lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)",
                                      "lr_scheduler.CosineAnnealingLR(optimizer, T_max=8, eta_min=0.001)",
                                      "lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=20)"])
def test_each_parameter_group_is_scheduled_from_its_own_rate(schedule):
    groups = "optim.SGD([{'params': model.fc.parameters(), 'lr': 0.1}, {'params': model.head.parameters()}], lr=0.01, momentum=0.9)"
    assert optimizer_difference(groups, schedule_text=schedule) <= 1e-7  # the schedules run in float32 (int32 count)


def _translate_with_definitions(source: str):
    from tests.training.harness import PRELUDE, _first_call, _reported
    from translator.training.optim import translate_optimizer

    file, call = _first_call(PRELUDE + source)
    definitions = {s.body[0].targets[0].target.value: s.body[0].value for s in file.resolved.module.body[:-1]
                   if m.matches(s, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name())])]))}
    translated = translate_optimizer(call, file, definitions=definitions)
    _reported(file)
    return translated


def test_module_level_names_in_parameter_filters_are_read():
    translated = _translate_with_definitions(
        "no_decay = ['bias', 'norm']\n"
        "optimizer = optim.AdamW([{'params': [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)]},"
        " {'params': [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], 'weight_decay': 0.0}])\n")
    assert "for nd in ['bias', 'norm']" in code_of(translated.transform)
    with pytest.raises(TranslationReported, match="O021.*'LayerNorm.weight'"):
        _translate_with_definitions("no_decay = ['bias', 'LayerNorm.weight']\n"
                                    "optimizer = optim.AdamW([p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)])\n")
    params = _translate_with_definitions("params = model.fc.parameters()\noptimizer = optim.SGD(params, lr=0.1)\n")
    assert "path[:1] == ('fc',)" in code_of(params.transform)


@pytest.mark.parametrize("optimizer", ["optim.SGD(model.parameters(), lr=0.05, momentum=0.9)", "optim.Adam(model.parameters())"])
def test_cyclic_lr_cycles_the_momentum_too(optimizer):
    schedule = "lr_scheduler.CyclicLR(optimizer, base_lr=0.01, max_lr=1.0, step_size_up=2, step_size_down=5, mode='triangular2')"
    assert optimizer_difference(optimizer, schedule_text=schedule) <= 1e-7


def test_clipping_part_of_the_model_clips_only_that_part():
    optimizer = "optim.SGD(model.parameters(), lr=0.05, momentum=0.9)"
    clip = "torch.nn.utils.clip_grad_norm_(model.fc.parameters(), max_norm=0.5)"
    code, _ = translate_optimizer_text(optimizer, clip)
    assert "optax.masked(torch_clip_grad_norm(0.5)" in code
    assert optimizer_difference(optimizer, clip_text=clip) <= EXACT
    everything = "optax.chain(torch_clip_grad_norm(0.5), optax.sgd(0.05, momentum=0.9))"
    assert optimizer_difference(optimizer, clip_text=clip, optax_text=everything) > 1e-3
