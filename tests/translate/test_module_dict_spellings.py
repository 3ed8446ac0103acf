"""nn.ModuleDict in each spelling real code uses translates and matches PyTorch (rule S005)."""

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rules.base import RuleCase


@pytest.mark.parametrize(
    "spelling",
    ["{'a': nn.Linear(4, 3), 'b': nn.Tanh()}", "dict(a=nn.Linear(4, 3), b=nn.Tanh())", "[['a', nn.Linear(4, 3)], ('b', nn.Tanh())]"],
)
def test_module_dict_spelling(spelling):
    compare_case(RuleCase(f"nn.ModuleDict({spelling})", "self.layer['b'](self.layer['a'](x))", (2, 4)))
