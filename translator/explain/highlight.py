"""Python source as syntax-highlighted HTML, one fragment per line (pygments, which rich brings).

Pygments' own formatter writes one stream whose spans cross line ends (a docstring); the views
need each line on its own, so tokens are split at newlines here and given pygments' short CSS
classes (the ones :func:`pygments_css` styles). Rule codes inside comments become buttons that
open the rule's explanation.
"""

from __future__ import annotations

import html

from pygments import lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import STANDARD_TYPES, Comment, _TokenType

from translator.explain.mapping import RULE_CODE
from translator.rules.registry import rule_by_code

#: the pygments styles of the two colour schemes (both ship with pygments)
LIGHT_STYLE = "default"
DARK_STYLE = "github-dark"
CODE_SCOPE = ".code"


def css_class(token: _TokenType) -> str:
    """Pygments' short class of ``token`` (its nearest styled ancestor's, as HtmlFormatter does)."""
    while token not in STANDARD_TYPES:
        token = token.parent
    return STANDARD_TYPES[token]


def rule_button(code: str) -> str:
    """A rule code as a button opening its explanation; a code no rule owns (``I001``) as plain text."""
    rule = rule_by_code(code)
    if rule is None:
        return f'<span class="code-ref" title="not a rule: the translator\'s own diagnostic">{code}</span>'
    summary = html.escape(f"{code} {rule.name}: {rule.summary}", quote=True)
    return f'<button type="button" class="rule" data-rule="{code}" title="{summary}">{code}</button>'


def with_rule_buttons(text: str) -> str:
    """Escaped ``text`` with each rule code made a :func:`rule_button`."""
    out, last = [], 0
    for match in RULE_CODE.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        out.append(rule_button(match.group(1)))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def highlighted_lines(code: str) -> list[str]:
    """One HTML fragment per line of ``code`` (``code.splitlines()``'s lines)."""
    lines: list[list[str]] = [[]]
    for token, value in lex(code, PythonLexer(stripnl=False, ensurenl=False)):
        cls = css_class(token)
        for index, piece in enumerate(value.split("\n")):
            if index:
                lines.append([])
            if not piece:
                continue
            body = with_rule_buttons(piece) if token in Comment else html.escape(piece)
            lines[-1].append(f'<span class="{cls}">{body}</span>' if cls else body)
    expected = len(code.splitlines())
    return ["".join(parts) for parts in lines[:expected]] + [""] * (expected - len(lines))


def pygments_css() -> str:
    """The token colours: pygments' light style, and its dark one when the reader prefers dark."""
    light = HtmlFormatter(style=LIGHT_STYLE).get_style_defs(CODE_SCOPE)
    dark = HtmlFormatter(style=DARK_STYLE).get_style_defs(CODE_SCOPE)
    return f"{strip_backgrounds(light)}\n@media (prefers-color-scheme: dark) {{\n{strip_backgrounds(dark)}\n}}"


def strip_backgrounds(css: str) -> str:
    """Pygments' rules less the ones that paint the whole block (the page's own colours do that)."""
    painting = ("pre ", "td.linenos", "span.linenos", f"{CODE_SCOPE} {{", f"{CODE_SCOPE} .hll")
    return "\n".join(line for line in css.splitlines() if not line.startswith(painting))
