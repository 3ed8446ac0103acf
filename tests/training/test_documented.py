"""The training rules' documented examples are what they emit, and every class a rule claims exists in
this torch and is named by one of its examples, cases or flagged calls."""

import ast
import pydoc

import libcst as cst
import pytest
from hypothesis import Phase, find, settings

from tests.training.harness import (
    PRELUDE,
    TranslationReported,
    _first_call,
    translate_optimizer_text,
    translate_schedule_text,
)
from translator.rewrite.context import code_of
from translator.rules.registry import all_rules
from translator.rules.training._common import TrainingRule
from translator.training.optim import translate_clip

TRAINING_RULES = [r for r in all_rules() if isinstance(r, TrainingRule)]
#: the optimizer a documented scheduler example is built over
DOCUMENTED_OPTIMIZER = "optim.SGD(model.parameters(), lr=0.01)"


def _value(source: str) -> str:
    """The expression of a one-statement example (the value of an assignment), comments dropped."""
    statement = ast.parse(source).body[0]
    return ast.unparse(statement.value if isinstance(statement, ast.Assign | ast.Expr) else statement)


def _reported(rule: TrainingRule) -> bool:
    return rule.doc.fidelity.startswith("Not translated")


def _emitted(rule: TrainingRule) -> str:
    torch_value = _value(rule.doc.example.torch)
    if rule.torch_optimizers or rule.code in ("O000", "O021"):
        code, _ = translate_optimizer_text(torch_value)
        return code
    if rule.torch_schedulers:
        steps = "steps_per_epoch" if "steps_per_epoch" in rule.doc.example.flax else None
        translated, _ = translate_schedule_text(torch_value, DOCUMENTED_OPTIMIZER, steps)
        return code_of(translated.schedule if translated.schedule is not None else translated.transform)
    file, call = _first_call(f"{PRELUDE}{torch_value}\n")
    clip = translate_clip(call, file)
    assert clip is not None and not file.diagnostics
    return code_of(clip)


@pytest.mark.parametrize("rule", [r for r in TRAINING_RULES if not _reported(r)], ids=lambda r: r.code)
def test_documented_example_is_what_the_rule_emits(rule):
    emitted = _emitted(rule)
    assert ast.dump(ast.parse(emitted)) == ast.dump(ast.parse(_value(rule.doc.example.flax))), (
        f"{rule.code} documents {_value(rule.doc.example.flax)}\nbut emits {emitted}"
    )


@pytest.mark.parametrize("rule", [r for r in TRAINING_RULES if _reported(r)], ids=lambda r: r.code)
def test_documented_untranslated_example_is_reported(rule):
    with pytest.raises(TranslationReported, match=rule.code):
        _emitted(rule)


@pytest.mark.parametrize("rule", TRAINING_RULES, ids=lambda r: r.code)
def test_every_claimed_class_exists_and_is_exercised(rule):
    texts = [rule.doc.example.torch, *rule.flagged_calls]
    for name in (*rule.torch_optimizers, *rule.torch_schedulers, *rule.torch_gradient_functions):
        assert pydoc.locate(name) is not None, f"{rule.code} claims {name}, which this torch does not have"
        called = f"{name.rsplit('.', 1)[1]}("
        if not any(called in text for text in texts):  # then one of the first draws of its cases must call it
            find(rule.cases(), lambda case, called=called: called in repr(case), settings=settings(max_examples=50, database=None, phases=[Phase.generate]))


def test_generated_support_code_is_valid_python():
    """Support definitions are written once per file: each parses and names the function it defines."""
    from translator.rules.training import (
        adagrad,
        adam,
        clip_grad,
        cosine_annealing_lr,
        nadam,
        one_cycle_lr,
        radam,
        sgd,
    )

    for module in (adagrad, adam, clip_grad, cosine_annealing_lr, nadam, one_cycle_lr, radam, sgd):
        tree = cst.parse_module(module.SUPPORT)
        assert [s.name.value for s in tree.body if isinstance(s, cst.FunctionDef)] == [module.SUPPORT_NAME]
