"""The terminal view: two aligned columns, diagnostics under their lines."""

from __future__ import annotations

from rich.console import Console

from tests.explain.shared import ROOT, SEED_CNN, WITH_DIAGNOSTICS, mapped, mapped_text
from translator.explain.mapping import explained
from translator.explain.terminal import aligned_rows, print_two_columns


def rendered(item) -> list[str]:
    console = Console(width=200, record=True, force_terminal=False, color_system=None)
    print_two_columns(item, console)
    return console.export_text().splitlines()


def test_each_statement_sits_beside_the_lines_it_became():
    item = explained((ROOT / SEED_CNN).read_text(), SEED_CNN, mapped(SEED_CNN))
    rows = aligned_rows(item)
    # every line of both files appears once, in order on each side
    assert [s for s, _, _ in rows if s] == list(range(1, len(item.source_lines) + 1))
    assert [f for _, f, _ in rows if f] == list(range(1, len(item.flax_lines) + 1))
    for source_line, flax_line, block in rows:
        if source_line and flax_line:
            assert block is not None
            assert source_line in item.blocks[block].source and flax_line in item.blocks[block].flax
    text = "\n".join(rendered(item))
    conv = next(line for line in text.splitlines() if "torch.relu(self.conv1(x))" in line)
    assert "nn.relu(self.conv1(jnp.transpose(x, (0, 2, 3, 1))))" in conv  # same row: the statement beside its translation


def test_diagnostics_stand_under_their_statement():
    item = explained(WITH_DIAGNOSTICS, "gate.py", mapped_text(WITH_DIAGNOSTICS))
    lines = rendered(item)
    stft = next(i for i, line in enumerate(lines) if "z = torch.stft(y, 4)" in line and "TODO" not in line)
    after = "\n".join(lines[stft + 1: stft + 3])
    assert "line 13, not translated: X001 no rule translates `torch.stft`" in after
    assert any("line 9, fidelity note: S017" in line for line in lines)
