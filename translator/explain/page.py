"""``torch2flax explain FILE -o PAGE.html``: one self-contained page, PyTorch beside its Flax translation.

The page carries its CSS, JavaScript, rule explanations and plots inline; a Content-Security-Policy
of ``default-src 'none'`` (inline style and script allowed, images only as ``data:``) makes the
browser refuse any fetch, so it opens offline from disk and makes no network request. Lines are
paired by the rewriter's line map (:mod:`translator.rewrite.line_map`): hovering a line previews
the lines it became (or came from), clicking or Enter pins them; each block has its own colour
on both sides, as in Compiler Explorer.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from translator.diagnostics import Diagnostic, Severity
from translator.explain.highlight import (
    highlighted_lines,
    pygments_css,
    rule_button,
    with_rule_buttons,
)
from translator.explain.mapping import Explained
from translator.explain.rule_doc import rule_article
from translator.rules.registry import rule_by_code

#: refuses every fetch: the page's own inline style and script run, images only from data: URLs
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
#: block colours cycle through this many hues (``.blk0`` ... in explain.css; pygments owns ``.c1``)
COLOURS = 8

SEVERITY_WORDS = {Severity.ERROR: "not translated", Severity.WARNING: "fidelity note"}


def asset(name: str) -> str:
    """A file of ``translator/explain/static`` (package data)."""
    return resources.files("translator.explain").joinpath("static", name).read_text()


def document(title: str, body: str, scripts: tuple[str, ...] = ()) -> str:
    """A complete offline HTML document with the explain stylesheet and the given inline scripts."""
    script_tags = "".join(f"<script>{s}</script>" for s in scripts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">'
        f"<title>{html.escape(title)}</title><style>{asset('explain.css')}\n{pygments_css()}</style></head>"
        f"<body>{body}{script_tags}</body></html>\n"
    )


def diagnostic_html(diagnostic: Diagnostic) -> str:
    kind = "error" if diagnostic.severity is Severity.ERROR else "warning"
    return (
        f'<div class="diag {kind}" role="note" data-code="{diagnostic.code}" data-line="{diagnostic.line}">'
        f'<span class="sev">{SEVERITY_WORDS[diagnostic.severity]}</span> {rule_button(diagnostic.code)} '
        f"{with_rule_buttons(diagnostic.message)} <span class=\"where\">(line {diagnostic.line}, column {diagnostic.column})</span></div>"
    )


def source_pane(explained: Explained) -> str:
    rows = []
    for number, fragment in enumerate(highlighted_lines(explained.source), 1):
        ids = explained.source_blocks.get(number, ())
        classes = ["line"]
        attributes = ""
        if ids:
            classes.append(f"blk{ids[0] % COLOURS}")
            attributes = f' data-blocks="{" ".join(map(str, ids))}"'
        diagnostics = explained.diagnostics_at.get(number, ())
        if any(d.severity is Severity.ERROR for d in diagnostics):
            classes.append("has-error")
        elif diagnostics:
            classes.append("has-warning")
        notes = "".join(diagnostic_html(d) for d in diagnostics)
        rows.append(f'<div class="{" ".join(classes)}" id="t-{number}" data-line="{number}"{attributes}>'
                    f'<span class="ln" aria-hidden="true">{number}</span><code>{fragment}</code>{notes}</div>')
    return "".join(rows)


def flax_pane(explained: Explained) -> str:
    rows = []
    for number, fragment in enumerate(highlighted_lines(explained.translation.code), 1):
        block = explained.flax_block.get(number)
        attributes = "" if block is None else f' data-block="{block}"'
        colour = "" if block is None else f" blk{block % COLOURS}"
        rows.append(f'<div class="line{colour}" id="f-{number}" data-line="{number}"{attributes}>'
                    f'<span class="ln" aria-hidden="true">{number}</span><code>{fragment}</code></div>')
    return "".join(rows)


def summary(explained: Explained) -> str:
    counts = explained.counts()
    rules = "".join(rule_button(code) for code in explained.rules_used)
    elsewhere = ""
    if explained.elsewhere:
        items = "".join(f"<li>{html.escape(d.path)}:{d.line}: {diagnostic_html(d)}</li>" for d in explained.elsewhere)
        elsewhere = f'<details class="elsewhere"><summary>{len(explained.elsewhere)} diagnostic(s) in imported files</summary><ul>{items}</ul></details>'
    return (
        '<dl class="summary">'
        f'<div><dt>translated lines</dt><dd id="count-translated">{counts["translated_lines"]} of {counts["code_lines"]} code lines</dd></div>'
        f'<div><dt>Flax lines</dt><dd id="count-flax">{counts["flax_lines"]}</dd></div>'
        f'<div><dt>rules used</dt><dd id="count-rules">{counts["rules"]}</dd></div>'
        f'<div><dt>not translated</dt><dd class="errors" id="count-errors">{counts["errors"]}</dd></div>'
        f'<div><dt>fidelity notes</dt><dd class="warnings" id="count-warnings">{counts["warnings"]}</dd></div>'
        f'</dl><div class="rules-used" aria-label="rules used">{rules}</div>{elsewhere}'
    )


def explain_page(explained: Explained, sections: tuple[str, ...] = ()) -> str:
    """The whole page for ``explained``; ``sections`` are further HTML sections (check results)."""
    name = Path(explained.path).name
    articles = "".join(rule_article(rule_by_code(code)) for code in explained.linked_codes)
    line_map = {"blocks": [{"source": [b.source.first, b.source.last], "flax": [b.flax.first, b.flax.last]}
                           for b in explained.blocks]}
    body = (
        '<a class="skip" href="#torch-code">Skip to the code</a>'
        f'<header><h1>{html.escape(name)} <span class="arrow">→</span> Flax (linen)</h1>'
        '<p class="hint">Hover or click a line to see what it became (and where a Flax line came from); '
        "Tab into a pane, arrow keys move, Enter pins; a rule code opens its explanation, Escape closes it.</p>"
        f"{summary(explained)}</header>"
        '<main><div class="panes">'
        f'<section class="pane" aria-label="PyTorch source"><h2>PyTorch <small>{html.escape(explained.path)}</small></h2>'
        f'<div class="code" id="torch-code" tabindex="0" role="group" aria-label="PyTorch lines">{source_pane(explained)}</div></section>'
        f'<section class="pane" aria-label="Flax translation"><h2>Flax <small>torch2flax translate {html.escape(name)}</small></h2>'
        f'<div class="code" id="flax-code" tabindex="0" role="group" aria-label="Flax lines">{flax_pane(explained)}</div></section>'
        "</div>"
        '<aside id="panel" hidden aria-label="Rule explanation" aria-live="polite">'
        f'<button type="button" class="close" aria-label="Close the explanation">Close ✕</button>{articles}</aside>'
        f"</main>{''.join(sections)}"
        f'<script type="application/json" id="line-map">{json.dumps(line_map)}</script>'
    )
    return document(f"torch2flax explain: {name}", body, (asset("explain.js"),))


def write_page(text: str, output: str | Path) -> Path:
    from translator.weights.checkpoint import write_atomically

    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
