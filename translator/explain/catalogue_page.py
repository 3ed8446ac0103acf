"""``torch2flax rules --html DIR``: the rule catalogue as one searchable offline page.

Generated from the registry: every registered rule's explanation and before/after example, the
same :class:`~translator.rules.base.Example` the catalogue test translates, so the page cannot
drift from the code. Rules are grouped by family (the folder of ``translator/rules`` they live in).
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from translator.explain.page import asset, document, write_page
from translator.explain.rule_doc import rule_article
from translator.rules.base import Rule
from translator.rules.registry import all_rules

#: family folder -> heading (a folder not listed is titled from its name)
FAMILIES = {
    "layers": "Layers", "activations": "Activations", "normalization": "Normalisation", "attention": "Attention",
    "recurrent": "Recurrent layers", "misc_layers": "Other layers", "tensor_ops": "Tensor operations",
    "einops": "einops", "losses": "Losses", "training": "Training", "structure": "Module structure",
    "unsupported": "Reported, not translated",
}
PAGE_NAME = "index.html"


def family_of(rule: Rule) -> str:
    parts = type(rule).__module__.split(".")
    return parts[2] if len(parts) > 3 else "other"


def catalogue_page(rules: list[Rule] | None = None) -> str:
    rules = all_rules() if rules is None else rules
    families: dict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        families[family_of(rule)].append(rule)
    order = [f for f in FAMILIES if f in families] + sorted(f for f in families if f not in FAMILIES)
    toc, sections = [], []
    for family in order:
        title = FAMILIES.get(family, family.replace("_", " ").capitalize())
        items = "".join(f'<li><a href="#rule-{r.code}" data-rule="{r.code}"><span class="badge">{r.code}</span> {html.escape(r.name)}</a></li>'
                        for r in families[family])
        toc.append(f'<li><strong>{html.escape(title)}</strong><ul>{items}</ul></li>')
        articles = "".join(rule_article(r, heading="h3") for r in families[family])
        sections.append(f'<section class="family" id="family-{family}"><h2>{html.escape(title)} '
                        f'<small>({len(families[family])})</small></h2>{articles}</section>')
    body = (
        '<header><h1>torch2flax rules</h1>'
        f'<p class="hint">{len(rules)} rules, generated from the registry (<code>torch2flax rules --html DIR</code>); each '
        "example is the one the test suite translates. <code>torch2flax rules CODE</code> prints the same text.</p>"
        '<p><label for="search">Search by code, name or PyTorch name: </label>'
        '<input type="search" id="search" placeholder="L002, Conv2d, layer_norm… (press /)" autocomplete="off"> '
        f'<span class="hint"><span id="shown">{len(rules)}</span> shown</span></p></header>'
        f'<div class="catalogue"><nav class="toc" aria-label="Rules by family"><ul>{"".join(toc)}</ul></nav>'
        f'<main class="rules">{"".join(sections)}</main></div>'
    )
    return document("torch2flax rules", body, (asset("catalogue.js"),))


def write_catalogue(directory: str | Path) -> Path:
    """Write the catalogue page into ``directory`` (created if needed); returns the page's path."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        from translator.diagnostics import UsageError

        raise UsageError(f"{target}: exists and is not a directory")
    return write_page(catalogue_page(), target / PAGE_NAME)
