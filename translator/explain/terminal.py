"""``torch2flax explain FILE`` on a terminal: PyTorch and Flax as two aligned columns (rich).

Rows follow the Flax file; each block of the rewriter's line map puts the PyTorch statement
beside the lines it became, with a coloured bar of the block's own colour on both sides.
Diagnostics stand under their PyTorch line (red: not translated, yellow: fidelity note) and
rule codes are bold in the Flax comments. Long output goes through the pager on a terminal.
"""

from __future__ import annotations

from itertools import zip_longest

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from translator.diagnostics import Severity
from translator.explain.mapping import RULE_CODE, Explained

#: block colours, cycled (as the page's)
COLOURS = ("blue", "green", "magenta", "red", "dark_orange", "cyan", "grey50", "yellow")

Row = tuple[int | None, int | None, int | None]  # (PyTorch line, Flax line, block)


def aligned_rows(explained: Explained) -> list[Row]:
    """Rows in Flax order: each block's PyTorch lines beside its Flax lines; unmapped lines alone.

    A PyTorch line shown once is not repeated (``__init__``'s signature becomes both the fields and
    ``setup``); PyTorch lines no block holds (left out, like script code) come where they fall.
    """
    rows: list[Row] = []
    shown = 0  # the last PyTorch line shown
    starts = {block.flax.first: index for index, block in enumerate(explained.blocks)}
    flax_count = len(explained.flax_lines)
    line = 1
    while line <= flax_count:
        index = starts.get(line)
        if index is None:
            rows.append((None, line, None))
            line += 1
            continue
        block = explained.blocks[index]
        rows.extend((n, None, None) for n in range(shown + 1, block.source.first))
        source = [n for n in block.source.lines() if n > shown]
        flax = list(block.flax.lines())
        while len(flax) > 1 and explained.flax_lines[flax[0] - 1].lstrip().startswith("#"):
            rows.append((None, flax.pop(0), index))  # the block's notes above, the statement beside its code
        rows.extend((s, f, index) for s, f in zip_longest(source, flax))
        shown = max(shown, block.source.last)
        line = block.flax.last + 1
    rows.extend((n, None, None) for n in range(shown + 1, len(explained.source_lines) + 1))
    return rows


def highlighted(code: str) -> list[Text]:
    lines = Syntax(code, "python", theme="ansi_dark").highlight(code).split("\n")
    return lines[: len(code.splitlines())]


def two_columns(explained: Explained, width: int | None = None) -> Table:
    source, flax = highlighted(explained.source), highlighted(explained.translation.code)
    for number, text in enumerate(flax, 1):
        if number in explained.flax_codes:
            text.highlight_regex(RULE_CODE.pattern, "bold underline")
    counts = explained.counts()
    table = Table(
        title=f"{explained.path} -> Flax: {counts['translated_lines']} of {counts['code_lines']} code lines translated, "
              f"{counts['rules']} rules, {counts['errors']} not translated, {counts['warnings']} fidelity notes",
        expand=True, show_lines=False, pad_edge=False, width=width,
    )
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("PyTorch", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("Flax", ratio=1, no_wrap=True, overflow="ellipsis")
    pending: list = []  # diagnostics of the block being shown: written under its last row
    current = None
    for source_line, flax_line, block in aligned_rows(explained):
        if pending and (block is None or block != current):
            add_diagnostics(table, pending)
        current = block
        bar = Text("▌", style=COLOURS[block % len(COLOURS)]) if block is not None else Text(" ")
        table.add_row(
            Text(str(source_line)) if source_line else "",
            bar + source[source_line - 1] if source_line else "",
            Text(str(flax_line)) if flax_line else "",
            bar + flax[flax_line - 1] if flax_line else "",
        )
        pending.extend(explained.diagnostics_at.get(source_line, ()) if source_line else ())
    add_diagnostics(table, pending)
    return table


def add_diagnostics(table: Table, diagnostics: list) -> None:
    """Rows under a PyTorch statement for its diagnostics (``diagnostics`` is emptied)."""
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity is Severity.ERROR else "yellow"
        word = "not translated" if diagnostic.severity is Severity.ERROR else "fidelity note"
        text = Text(f"  ^ line {diagnostic.line}, {word}: {diagnostic.code} {diagnostic.message}", style=style, overflow="fold")
        table.add_row("", text, "", "")
    diagnostics.clear()


def print_two_columns(explained: Explained, console: Console) -> None:
    """Print the two columns; through the pager when the console is a terminal and the table is long."""
    table = two_columns(explained)
    for diagnostic in explained.elsewhere:
        console.print(diagnostic.format(), markup=False, style="red" if diagnostic.severity is Severity.ERROR else "yellow")
    if console.is_terminal and len(table.rows) > console.size.height - 4:
        with console.pager(styles=True):
            console.print(table)
    else:
        console.print(table)
    console.print("Rule codes: `torch2flax rules CODE` explains one; `torch2flax explain FILE -o PAGE.html` writes the "
                  "page where they open on click.", markup=False, style="dim")
