"""Tests generated from the rule catalogue: every registered rule is documented and tested.

Adding a rule file adds its tests here: its documentation is checked for every
section, and its documented example against what the rule emits; its Hypothesis
cases (a fixed explicit one and those drawn with the session's seed) are translated
and compared with PyTorch (outputs and gradients after porting); every construct it
claims must be exercised; and a rule's flagged examples must produce its code.
"""

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from translator.equivalence.rule_cases import (
    EXPLICIT_DRAWS,
    FIXED_SEED,
    case_constructs,
    case_size,
    compare_case,
    compare_documented,
    constructs_in,
    documented_input,
    documented_module,
    drawn_cases,
    explicit_case,
    missing_statements,
    translate_documented,
    unexercised_claims,
    unexplained_errors,
)
from translator.instance.translate import build_model, translate_built
from translator.rewrite.pipeline import translate_source
from translator.rules.base import DiagnosticRule
from translator.rules.registry import all_rules
from translator.rules.training._common import TrainingRule

RULES = all_rules()
#: rules of model code; training rules (optimizers, schedulers: their cases are not layer cases) are
#: checked step by step in tests/training (documented examples, claims, equivalence with torch.optim)
MODEL_RULES = [r for r in RULES if not isinstance(r, TrainingRule)]
TRANSLATING = [r for r in MODEL_RULES if not isinstance(r, DiagnosticRule)]
FLAGGING = [r for r in MODEL_RULES if isinstance(r, DiagnosticRule) or r.flagged_examples or r.flagged_builds]


def test_codes_are_unique_and_well_formed():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert all(len(c) == 4 and c[0].isalpha() and c[1:].isdigit() for c in codes)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_is_documented(rule):
    doc = rule.doc
    for section in (doc.what, doc.why, doc.fidelity, doc.example.torch, doc.example.flax, rule.summary, rule.name):
        assert section and section.strip(), f"{rule.code} lacks a documentation section"
    assert rule.name.startswith(("Torch", "Unknown", "Module", "Discarded")), "rules are named after the PyTorch construct"
    explanation = rule.explain()
    for heading in ("What it translates", "Why JAX differs", "Example", "Fidelity"):
        assert heading in explanation
    ast.parse(doc.example.torch)  # examples are real code
    if not isinstance(rule, DiagnosticRule):
        ast.parse(doc.example.flax)


@pytest.mark.parametrize("rule", TRANSLATING, ids=lambda r: r.code)
def test_documented_example_is_what_the_rule_emits(rule):
    """The documented Flax is what the documented PyTorch translates to; run and compared when complete.

    A fragment is wrapped in a module (``documented_module``); attributes it uses without
    building them (``self.fc1`` in ``torch.relu(self.fc1(x))``) are the only thing the
    translator may report.  A runnable example that computes tensors from one input (whose
    shape ``documented_input`` finds) is also compared numerically.
    """
    documented = documented_module(rule.doc.example)
    translation = translate_documented(documented)
    unexpected = unexplained_errors(documented, translation)
    assert not unexpected, f"{rule.code}'s documented example does not translate cleanly: {unexpected}\n{documented.source}"
    missing = missing_statements(rule.doc.example.flax, translation.code)
    assert not missing, f"{rule.code} documents Flax it does not emit: {missing}\nEmitted:\n{translation.code}"
    spec = documented_input(documented) if documented.runnable else None
    if spec is not None:
        compare_documented(documented, spec)


@pytest.mark.parametrize("rule", TRANSLATING, ids=lambda r: r.code)
def test_rule_equivalence(rule):
    """Outputs and gradients of the translated construct match PyTorch's after porting.

    The explicit case (a fixed, non-trivial draw) runs first on every run; the drawn cases
    change with the session's seed (printed in the header: ``T2F_SEED=...`` repeats them).
    """
    compare_case(explicit_case(rule), 0)  # outside Hypothesis: an undecided explicit case fails

    @given(case=rule.cases(), seed=st.integers(0, 2**16))
    def equivalent(case, seed):
        compare_case(case, seed)  # a draw float32 cannot decide is rejected, never passed

    equivalent()


@pytest.mark.parametrize("rule", TRANSLATING, ids=lambda r: r.code)
def test_explicit_case_is_not_the_minimal_one(rule):
    """The explicit case has a multi-element input and is not the simplest draw (which every run tries first)."""
    fixed = explicit_case(rule)
    draws = drawn_cases(rule.cases(), EXPLICIT_DRAWS, FIXED_SEED)
    assert case_size(fixed) > 1, f"{rule.code}'s explicit case has a one-element input: {fixed}"
    assert fixed != draws[0] or len(set(draws)) == 1, f"{rule.code}'s explicit case is its simplest draw"


@pytest.mark.parametrize("rule", MODEL_RULES, ids=lambda r: r.code)
def test_every_claimed_construct_is_exercised(rule):
    """Every class, function and tensor method the rule claims is used by one of its tests.

    By a case its strategy draws (the same draws every run, up to ``CLAIM_DRAWS``) or its explicit
    case, both run and compared; by a flagged example (a construct the rule reports rather than
    translates); or by its documented example, whose translation is checked above (for a construct
    PyTorch cannot run on this machine, such as ``x.cuda()``).
    """
    exercised = set()
    for source in rule.flagged_examples:
        exercised |= constructs_in(source)
    if not isinstance(rule, DiagnosticRule):
        exercised |= constructs_in(documented_module(rule.doc.example).source) | case_constructs(explicit_case(rule))
    missing = unexercised_claims(rule, exercised)
    assert not missing, f"{rule.code} claims constructs none of its cases or examples use: {missing}"


@pytest.mark.parametrize("rule", FLAGGING, ids=lambda r: r.code)
def test_rule_flags_its_examples(rule, tmp_path):
    """A diagnostic rule's examples, and the constructs a translating rule reports, produce its code."""
    assert rule.flagged_examples or rule.flagged_builds or not isinstance(rule, DiagnosticRule), f"{rule.code} has no flagged examples"
    for source in rule.flagged_examples:
        translation = translate_source(source, "example.py")
        assert rule.code in {d.code for d in translation.diagnostics}, (rule.code, translation.diagnostics)
    for index, (source, build) in enumerate(rule.flagged_builds):
        path = tmp_path / f"built_{index}.py"
        path.write_text(source)
        translation = translate_built(build_model(path, None, build=build), str(path)).translation
        assert rule.code in {d.code for d in translation.diagnostics}, (rule.code, build, translation.diagnostics)
