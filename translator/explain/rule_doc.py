"""A rule's explanation as HTML: the same sections ``torch2flax rules CODE`` prints (ruff's, adapted).

Shared by the explain page's side panel and the catalogue page, so both show what the rule
object holds (its :class:`~translator.rules.base.RuleDoc`), never a second copy.
"""

from __future__ import annotations

import html
import re
import textwrap

from translator.explain.highlight import highlighted_lines
from translator.rules.base import Rule


def code_block(code: str, label: str) -> str:
    lines = highlighted_lines(textwrap.dedent(code).strip("\n"))
    return f'<figure class="example"><figcaption>{label}</figcaption><pre class="code">{chr(10).join(lines)}</pre></figure>'


#: a line that starts an item of its own (a list entry): kept on its own line
ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s")
#: `code` in a RuleDoc's text (markdown's inline code)
INLINE_CODE = re.compile(r"`([^`]+)`")


def paragraphs(text: str) -> str:
    """Plain text of a RuleDoc section as paragraphs: blank lines separate them, wrapped lines are
    joined, a list item keeps its own line."""
    out = []
    for block in textwrap.dedent(text).strip().split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        joined = [lines[0]]
        for line in lines[1:]:
            if ITEM.match(line):
                joined.append(line)
            else:
                joined[-1] += " " + line
        out.append("<p>" + "<br>".join(INLINE_CODE.sub(r"<code>\1</code>", html.escape(j)) for j in joined) + "</p>")
    return "".join(out)


def matched_names(rule: Rule) -> list[str]:
    """What the rule matches, as the user writes it: classes, functions, ``x.method``."""
    return [*rule.torch_classes, *rule.torch_functions, *(f"x.{m}" for m in rule.tensor_methods)]


def rule_article(rule: Rule, heading: str = "h2") -> str:
    """One ``<article id="rule-CODE">`` holding the rule's explanation and before/after example."""
    doc = rule.doc
    names = matched_names(rule)
    matches = (f'<p class="matches">Matches: {", ".join(f"<code>{html.escape(n)}</code>" for n in names)}</p>'
               if names else "")
    return (
        f'<article class="rule-doc" id="rule-{rule.code}" data-rule="{rule.code}" '
        f'data-search="{html.escape(" ".join([rule.code, rule.name, rule.summary, *names]).lower(), quote=True)}">'
        f'<{heading} class="rule-title" tabindex="-1"><span class="badge">{rule.code}</span> {html.escape(rule.name)}</{heading}>'
        f'<p class="summary">{html.escape(rule.summary)}</p>{matches}'
        f"<h3>What it translates</h3>{paragraphs(doc.what)}"
        f"<h3>Why JAX differs</h3>{paragraphs(doc.why)}"
        f'<h3>Example</h3><div class="pair">{code_block(doc.example.torch, "PyTorch")}{code_block(doc.example.flax, "Flax")}</div>'
        f"<h3>Fidelity</h3>{paragraphs(doc.fidelity)}"
        "</article>"
    )
