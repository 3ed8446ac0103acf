"""The einops pattern rewrite (E001-E004): when the left side may be read channels-last, and when not.

Pairs of (pattern, rank) -> rewritten side or None (convert to PyTorch's layout);
then whole translations for the cases that must fall back, checked by the oracle.
"""

from __future__ import annotations

import pytest

from translator.equivalence.rule_cases import case_source, compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase
from translator.rules.einops._pattern import channels_last_pattern, channels_last_side, entries

REWRITES = [
    ("b c h w", 4, "b h w c"),
    ("b c (h p1) (w p2)", 4, "b (h p1) (w p2) c"),
    ("(b t) c h w", 4, "(b t) h w c"),
    ("b (c g) h w", 4, "b h w (c g)"),
    ("b c h w", None, "b h w c"),  # unknown rank: the pattern fixes it
    ("b c ...", 4, "b ... c"),
    ("b c ... w", 4, "b ... w c"),
    ("b c ...", None, "b ... c"),
    ("b c h", 3, "b h c"),
    ("b () h w", 4, "b h w ()"),
    ("b 1 h w", 4, "b h w 1"),
]
FALLBACKS = [
    ("b ... c", 4),  # the channel axis is inside the ellipsis
    ("... h w", 4),
    ("b ...", 4),
    ("b c h", 4),  # the pattern's rank is not the value's: einops raises; leave it to einops
    ("b c h w d", 4),
    ("b c (h (w k))", 4),  # nested groups: einops rejects them
    ("b c (h ...)", 4),
    ("b c ... h ...", 4),
    ("b", 1),
]


@pytest.mark.parametrize(("side", "rank", "expected"), REWRITES)
def test_left_side_rewritten(side, rank, expected):
    assert channels_last_side(side, rank) == expected


@pytest.mark.parametrize(("side", "rank"), FALLBACKS)
def test_left_side_falls_back_to_plain(side, rank):
    assert channels_last_side(side, rank) is None


def test_entries_keep_groups_whole():
    assert entries(" b  c (h p1)(w p2) ... ") == ["b", "c", "(h p1)", "(w p2)", "..."]
    assert channels_last_pattern("b c h w -> b (h w) c", 4) == "b h w c -> b (h w) c"
    assert channels_last_pattern("b c h w", 4) is None  # no arrow


CONV = "nn.Conv2d(2, 3, 1)"
PRELUDE = "import einops\nPATTERN = 'b c h w -> b (h w) c'"
PLAIN_FALLBACKS = {
    "channel_in_ellipsis": "einops.rearrange(self.layer(x), 'b ... w -> b w ...')",
    "pattern_not_constant": "einops.rearrange(self.layer(x), PATTERN)",
    "list_input": "einops.rearrange([self.layer(x), self.layer(x) * 2], 'n b c h w -> b (n c) h w')",
    "reduce_channel_in_ellipsis": "einops.reduce(self.layer(x), '... h w -> ...', 'sum')",
    "einsum_one_operand_plain": "einops.einsum(self.layer(x), x, 'b ... w, b c h w -> b c')",
}


@pytest.mark.parametrize("forward", PLAIN_FALLBACKS.values(), ids=PLAIN_FALLBACKS.keys())
def test_unprovable_patterns_convert_to_plain(forward):
    """Where the rewrite cannot be proved, the NHWC value is transposed back, and the result is right."""
    case = RuleCase(CONV, forward, (2, 2, 3, 3), prelude=PRELUDE)
    code = translate_source(case_source(case), "case.py").code
    assert "(0, 3, 1, 2)" in code
    compare_case(case, seed=1)


def test_reduction_callable_is_reported():
    case = RuleCase(None, "einops.reduce(x, 'b c -> b', torch.logsumexp)", (2, 3), prelude="import einops")
    translation = translate_source(case_source(case), "case.py")
    assert "E003" in {d.code for d in translation.diagnostics}
    case = RuleCase("Reduce('b c -> b', 'median')", "self.layer(x)", (2, 3), prelude="from einops.layers.torch import Reduce")
    translation = translate_source(case_source(case), "case.py")
    assert "E003" in {d.code for d in translation.diagnostics}
