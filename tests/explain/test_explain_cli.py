"""``torch2flax explain`` and ``rules --html`` from the command line."""

from __future__ import annotations

from tests.explain.shared import ROOT, WITH_DIAGNOSTICS
from translator.cli import main
from translator.rules.registry import all_rules


def test_explain_writes_the_page_and_exits_1_when_a_construct_is_not_translated(tmp_path, capsys):
    source = tmp_path / "gate.py"
    source.write_text(WITH_DIAGNOSTICS)
    assert main(["explain", str(source), "-o", str(tmp_path / "out" / "gate.html")]) == 1
    page = (tmp_path / "out" / "gate.html").read_text()
    assert 'data-code="X001"' in page and 'id="t-13"' in page
    assert "wrote" in capsys.readouterr().err


def test_explain_prints_two_columns_without_o(capsys):
    assert main(["explain", str(ROOT / "examples" / "seed_mlp.py")]) == 0
    out = capsys.readouterr().out
    assert "PyTorch" in out and "Flax" in out and "nn.Dense" in out


def test_explain_usage_errors(tmp_path, capsys):
    seed = str(ROOT / "examples" / "seed_mlp.py")
    assert main(["explain", seed, "--class", "Nope", "-o", str(tmp_path / "p.html")]) == 2
    assert main(["explain", seed, "--input", "float32[2,4]"]) == 2
    assert main(["explain", str(tmp_path / "missing.py")]) == 2
    assert not (tmp_path / "p.html").exists()
    err = capsys.readouterr().err
    assert "no model class `Nope`" in err and "--class NAME" in err and "no such file" in err


def test_rules_html_writes_the_catalogue(tmp_path):
    assert main(["rules", "--html", str(tmp_path / "rules")]) == 0
    page = (tmp_path / "rules" / "index.html").read_text()
    assert page.count('<article class="rule-doc"') == len(all_rules())
