"""What an explain view shows, computed once from a translation and its line map.

Both views (the HTML page and the terminal's two columns) read an :class:`Explained`: the two
files' lines, the blocks pairing them (from the rewriter's line map, never from matching text),
the rule codes each Flax line cites, the diagnostics standing at each PyTorch line, and the
summary counts.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from translator.diagnostics import Diagnostic, Severity
from translator.rewrite.line_map import MappedBlock
from translator.rewrite.pipeline import Translation, translate_source
from translator.rules.registry import rule_by_code

#: a rule code as the rewriter writes it in a note or a TODO (``L002``, ``X001``)
RULE_CODE = re.compile(r"(?<![A-Za-z0-9_])([A-Z]\d{3})(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class Explained:
    """One file explained: PyTorch source, its Flax translation, and how their lines correspond.

    ``blocks`` are the line map's blocks of this file (a block of a file it imports is left out of
    the pairing, and its diagnostics are in ``elsewhere``); block ``i`` is ``blocks[i]``.
    """

    path: str
    source: str
    translation: Translation
    blocks: tuple[MappedBlock, ...]
    #: PyTorch line -> indices of the blocks it belongs to (a constructor signature may become a field and setup)
    source_blocks: dict[int, tuple[int, ...]] = field(default_factory=dict)
    #: Flax line -> index of its block
    flax_block: dict[int, int] = field(default_factory=dict)
    #: Flax line -> rule codes its comments cite (registered rules only)
    flax_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: PyTorch line -> rule codes the user's own comments cite (a tutorial file may)
    source_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: PyTorch line -> diagnostics located there
    diagnostics_at: dict[int, tuple[Diagnostic, ...]] = field(default_factory=dict)
    #: diagnostics located in other files (definitions brought in from imported project files)
    elsewhere: tuple[Diagnostic, ...] = ()

    @property
    def source_lines(self) -> list[str]:
        return self.source.splitlines()

    @property
    def flax_lines(self) -> list[str]:
        return self.translation.code.splitlines()

    def flax_lines_of(self, source_line: int) -> list[int]:
        """The Flax lines the statement(s) on ``source_line`` became, in order."""
        return sorted(n for i in self.source_blocks.get(source_line, ()) for n in self.blocks[i].flax.lines())

    @property
    def rules_used(self) -> tuple[str, ...]:
        """Registered rule codes cited in the Flax code or by a diagnostic, sorted."""
        codes = {c for codes in self.flax_codes.values() for c in codes}
        codes |= {d.code for d in self.translation.diagnostics if rule_by_code(d.code) is not None}
        return tuple(sorted(codes))

    @property
    def translated_lines(self) -> int:
        """PyTorch lines that became Flax code (lines of statements in some block)."""
        return len(self.source_blocks)

    @property
    def code_lines(self) -> int:
        """PyTorch lines holding code (not blank, not only a comment)."""
        return sum(1 for line in self.source_lines if line.strip() and not line.lstrip().startswith("#"))

    @property
    def linked_codes(self) -> tuple[str, ...]:
        """Every registered rule code the views link: the rules used, and codes cited in the user's
        comments and in diagnostic messages."""
        codes = set(self.rules_used) | {c for codes in self.source_codes.values() for c in codes}
        for diagnostic in self.translation.diagnostics:
            codes.update(RULE_CODE.findall(diagnostic.message))
        return tuple(sorted(c for c in codes if rule_by_code(c) is not None))

    def counts(self) -> dict[str, int]:
        errors = sum(d.severity is Severity.ERROR for d in self.translation.diagnostics)
        return {
            "translated_lines": self.translated_lines,
            "code_lines": self.code_lines,
            "flax_lines": len(self.flax_lines),
            "rules": len(self.rules_used),
            "errors": errors,
            "warnings": len(self.translation.diagnostics) - errors,
        }


def explain_source(source: str, path: str, notes: bool = True) -> Explained:
    """Translate ``source`` with its line map and pair the lines (raises ``UsageError`` on bad input)."""
    return explained(source, path, translate_source(source, path, notes=notes, line_map=True))


def explain_file(path: str | Path) -> Explained:
    from translator.diagnostics import UsageError

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        text = file.read_text()
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a UTF-8 text file") from None
    return explain_source(text, str(path))


def explained(source: str, path: str, translation: Translation) -> Explained:
    """Pair ``source`` with ``translation`` (made with ``line_map=True``) by the rewriter's line map."""
    blocks = tuple(b for b in translation.line_map if b.path == path)
    source_blocks: dict[int, list[int]] = defaultdict(list)
    flax_block: dict[int, int] = {}
    for index, block in enumerate(blocks):
        for line in block.source.lines():
            source_blocks[line].append(index)
        for line in block.flax.lines():
            flax_block[line] = index
    diagnostics_at: dict[int, list[Diagnostic]] = defaultdict(list)
    elsewhere = []
    for diagnostic in translation.diagnostics:
        if diagnostic.path == path:
            diagnostics_at[diagnostic.line].append(diagnostic)
        else:
            elsewhere.append(diagnostic)
    return Explained(
        path=path,
        source=source,
        translation=translation,
        blocks=blocks,
        source_blocks={line: tuple(ids) for line, ids in source_blocks.items()},
        flax_block=flax_block,
        flax_codes=comment_codes(translation.code),
        source_codes=comment_codes(source),
        diagnostics_at={line: tuple(ds) for line, ds in diagnostics_at.items()},
        elsewhere=tuple(elsewhere),
    )


def comment_codes(code: str) -> dict[int, tuple[str, ...]]:
    """Line -> the registered rule codes cited in that line's comments."""
    found: dict[int, tuple[str, ...]] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):  # emitted code that does not parse (reported as I001)
        return found
    for token in tokens:
        if token.type == tokenize.COMMENT:
            codes = tuple(c for c in RULE_CODE.findall(token.string) if rule_by_code(c) is not None)
            if codes:
                found[token.start[0]] = codes
    return found
