"""Tests generated from the rule catalogue: every registered rule is documented and tested.

Adding a rule file adds its tests here: its documentation is checked for every
section, its Hypothesis cases are translated and compared with PyTorch (outputs
and gradients after porting), and a diagnostic rule's flagged examples must
produce its code.
"""

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from translator.equivalence.rule_cases import compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import DiagnosticRule
from translator.rules.registry import all_rules

RULES = all_rules()
TRANSLATING = [r for r in RULES if not isinstance(r, DiagnosticRule)]
FLAGGING = [r for r in RULES if isinstance(r, DiagnosticRule)]


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
def test_rule_matches_something(rule):
    assert rule.cases() is not None, f"{rule.code} has no equivalence cases"


@pytest.mark.parametrize("rule", TRANSLATING, ids=lambda r: r.code)
def test_rule_equivalence(rule):
    """Outputs and gradients of the translated construct match PyTorch's after porting."""

    @given(case=rule.cases(), seed=st.integers(0, 2**16))
    def equivalent(case, seed):
        compare_case(case, seed)

    equivalent()


@pytest.mark.parametrize("rule", FLAGGING, ids=lambda r: r.code)
def test_rule_flags_its_examples(rule):
    assert rule.flagged_examples, f"{rule.code} has no flagged examples"
    for source in rule.flagged_examples:
        translation = translate_source(source, "example.py")
        assert rule.code in {d.code for d in translation.diagnostics}, (rule.code, translation.diagnostics)
