"""Gradients at the exact kinks of the activation rules (PITFALLS.md section 4), and the traps they avoid.

The catalogue's Hypothesis cases hit the kinks by chance (the oracle mixes exact
zeros into inputs); these tests put every kink in every input, and check that the
oracle rejects each naive mapping the rules document, so a regression to one of
them cannot pass.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from translator.equivalence.check import build_pair
from translator.equivalence.rule_cases import LAYER_TOLERANCE, case_source
from translator.equivalence.specs import InputSpec
from translator.rules.base import RuleCase
from translator.rules.registry import rule_by_code


def compare_at(init: str | None, forward: str, points: list[float], seed: int = 0):
    """Translate a one-layer case and compare outputs and gradients on an input holding ``points``."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.repeat(np.asarray(points, np.float32), 3), rng.uniform(-4, 4, 13).astype(np.float32)])
    case = RuleCase(init, forward, x.shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.py"
        path.write_text(case_source(case))
        pair, _ = build_pair(path, "Case", [InputSpec("float32", x.shape, None, None)], seed=seed)
        comparison = pair.compare((x,), cotangent_seed=seed)
    return {q: getattr(comparison, q).within(LAYER_TOLERANCE) for q in ("output", "grad_input", "grad_params")}


def assert_equivalent(init, forward, points):
    result = compare_at(init, forward, points)
    assert all(result.values()), result


KINKS = [
    ("nn.ReLU6()", "self.layer(x)", [0.0, 6.0]),
    (None, "F.relu6(x)", [0.0, 6.0]),
    ("nn.LeakyReLU(0.2)", "self.layer(x)", [0.0]),
    ("nn.LeakyReLU()", "self.layer(x * 2.0)", [0.0]),
    (None, "F.leaky_relu(x, 0.2)", [0.0]),
    (None, "F.leaky_relu(x - 1.0, negative_slope=0.3)", [1.0]),
    ("nn.PReLU()", "self.layer(x)", [0.0]),
    ("nn.PReLU(init=0.1)", "self.layer(x + 0.0)", [0.0]),
    ("nn.Hardtanh()", "self.layer(x)", [-1.0, 1.0]),
    ("nn.Hardtanh(-2.0, 3.0)", "self.layer(x)", [-2.0, 3.0]),
    ("nn.Hardtanh(min_value=-0.5, max_value=0.5)", "self.layer(x)", [-0.5, 0.5]),
    (None, "F.hardtanh(x)", [-1.0, 1.0]),
    (None, "F.hardtanh(x * 1.0, 0.0, 6.0)", [0.0, 6.0]),
    ("nn.Hardsigmoid()", "self.layer(x)", [-3.0, 3.0]),
    (None, "F.hardswish(x)", [-3.0, 3.0, 0.0]),
    ("nn.Softplus(beta=2.0, threshold=1.0)", "self.layer(x)", [0.5, 0.0]),
    (None, "F.softplus(x, 0.5, 3.0)", [6.0]),
    (None, "F.softplus(x, threshold=2.0)", [2.0]),
    ("nn.Softplus()", "self.layer(x)", [20.0, 0.0]),
    ("nn.ELU(alpha=0.5)", "self.layer(x)", [0.0]),
    ("nn.CELU(alpha=2.0)", "self.layer(x)", [0.0]),
    ("nn.SELU()", "self.layer(x)", [0.0]),
    ("nn.GELU()", "self.layer(x)", [0.0, 2.7]),
    ("nn.GELU('tanh')", "self.layer(x)", [0.0, 2.7]),
    (None, "F.softsign(x)", [0.0]),
]


@pytest.mark.parametrize(("init", "forward", "points"), KINKS, ids=lambda v: str(v))
def test_gradient_at_kinks_matches_pytorch(init, forward, points):
    assert_equivalent(init, forward, points)


# the naive mapping each rule documents, and a case whose kink it gets wrong
TRAPS = [
    ("A005", "body", lambda self, x, args: f"nn.leaky_relu({x}, negative_slope={args['slope']})", "nn.LeakyReLU(0.2)", [0.0]),
    ("A015", "body", lambda self, x, args: f"jnp.clip({x}, {args['lo']}, {args['hi']})", "nn.Hardtanh()", [-1.0, 1.0]),
    ("A015", "body", lambda self, x, args: f"nn.hard_tanh({x})", "nn.Hardtanh()", [-1.0, 1.0]),
    ("A016", "body", lambda self, x, args: f"nn.softplus({args['beta']} * {x}) / {args['beta']}", "nn.Softplus(2.0, 1.0)", [0.6]),
    ("A004", "flax_function", "(lambda x: jnp.clip(x, 0, 6))", "nn.ReLU6()", [0.0, 6.0]),
    ("A010", "flax_keywords", lambda self, ctx: {}, "nn.GELU()", [2.7, -1.0]),
]


@pytest.mark.parametrize(("code", "attribute", "sabotage", "init", "points"), TRAPS, ids=lambda v: str(v)[:20])
def test_oracle_rejects_the_naive_mapping(monkeypatch, code, attribute, sabotage, init, points):
    monkeypatch.setattr(type(rule_by_code(code)), attribute, sabotage)
    result = compare_at(init, "self.layer(x)", points)
    assert not all(result.values()), f"{code}: the naive mapping passed the oracle"


def test_prelu_naive_flax_layer_is_rejected(monkeypatch):
    """``nn.PReLU`` has the same parameter but gradient 1 at x = 0 (PyTorch: the slope)."""
    import libcst as cst

    rule = type(rule_by_code("A006"))
    original = rule.build_layer

    def naive(self, ctx):
        return original(self, ctx).__class__(
            cst.parse_expression("nn.PReLU()"), original(self, ctx).call
        )

    monkeypatch.setattr(rule, "build_layer", naive)
    result = compare_at("nn.PReLU()", "self.layer(x)", [0.0])
    assert result["output"] and result["grad_params"] and not result["grad_input"], result


def test_implicit_softmax_dim_needs_a_rank():
    from translator.rewrite.pipeline import translate_source

    source = case_source(RuleCase(None, "F.softmax(x)", (2, 3)))
    codes = {d.code for d in translate_source(source).errors}
    assert "A019" in codes


CHANNELS_LAST = [
    # module forms applied to a conv output: the dim is remapped and the implicit dim uses the known rank
    ("nn.Softmax(dim=1)\nself.conv = nn.Conv2d(3, 3, 1)", "self.layer(self.conv(x))"),
    ("nn.Softmax()\nself.conv = nn.Conv2d(3, 3, 1)", "self.layer(self.conv(x))"),
    ("nn.LogSoftmax(dim=-1)\nself.conv = nn.Conv2d(3, 3, 1)", "self.layer(self.conv(x))"),
    ("nn.Softmin(dim=2)\nself.conv = nn.Conv2d(3, 3, 1)", "self.layer(self.conv(x))"),
    ("nn.GLU(dim=1)\nself.conv = nn.Conv2d(3, 4, 1)", "self.layer(self.conv(x))"),
    ("nn.Conv2d(3, 3, 1)", "F.softmax(self.layer(x), -3) + self.layer(x).log_softmax(0)"),
]


@pytest.mark.parametrize(("init", "forward"), CHANNELS_LAST, ids=lambda v: str(v)[:30])
def test_axis_activations_on_channels_last_values(init, forward):
    case = RuleCase(init, forward, (2, 3, 4, 6))
    from translator.equivalence.rule_cases import compare_case

    compare_case(case, seed=1)
