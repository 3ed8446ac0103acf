"""Which lines of the Flax output each PyTorch statement became, recorded by the rewriter itself.

When a translation is asked for its line map (``translate_source(..., line_map=True)``), every
statement the rewriter emits for a user statement (a class, ``setup`` from ``__init__``, each
constructor and ``forward`` statement, each method and helper function) carries one marker
comment, ``# @t2f:<nonce>:<index>``, placed before its own comments. The marker's index names the
user statement's lines, read from libcst's :class:`~libcst.metadata.PositionProvider` on the
*original* node (a compound statement maps its header, its body maps statement by statement).
Comments are kept by isort and black, so after formatting :func:`read_back` finds each marker,
removes it and measures, with :mod:`ast` on the final code, which output lines the statement
took: from the marker to the end of the statement (a compound statement: its header), extended
over any unmarked statements that follow in the same block until the next marker.

The code with the markers removed is the code ``translate`` writes (tested on every reference
model); nothing here matches text between the two files after the fact.
"""

from __future__ import annotations

import ast
import re
import secrets
from dataclasses import dataclass, field

import libcst as cst


@dataclass(frozen=True)
class LineSpan:
    """Lines ``first`` to ``last`` of a file, 1-based and inclusive."""

    first: int
    last: int

    def __contains__(self, line: int) -> bool:
        return self.first <= line <= self.last

    def lines(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True)
class MappedBlock:
    """The user's statement at ``source`` (in ``path``) became the Flax lines ``flax``."""

    path: str
    source: LineSpan
    flax: LineSpan


@dataclass
class LineMarks:
    """The markers of one translation: a per-translation nonce and the source span of each index."""

    #: the lines of the source being translated (where :func:`source_span` trims a header)
    source_lines: list[str] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_hex(4))
    spans: list[LineSpan] = field(default_factory=list)

    def comment(self, span: LineSpan) -> cst.EmptyLine:
        self.spans.append(span)
        return cst.EmptyLine(comment=cst.Comment(f"# @t2f:{self.nonce}:{len(self.spans) - 1}"))

    def pattern(self) -> re.Pattern[str]:
        return re.compile(rf"^[ \t]*# @t2f:{self.nonce}:(\d+)[ \t]*$")


def with_marker(statement: cst.BaseStatement, marker: cst.EmptyLine) -> cst.BaseStatement:
    """``statement`` with ``marker`` among its leading lines: after its blank lines, before its comments.

    Black keeps a comment that stands alone on its line where it is; placing the marker after the
    blank lines keeps black's spacing of the statement the same with or without it."""
    return with_lines_before_comments(statement, [marker])


def with_lines_before_comments(statement: cst.BaseStatement, lines: list[cst.EmptyLine]) -> cst.BaseStatement:
    """``statement`` with ``lines`` among its leading lines: after its blank lines, before its comments."""
    if not lines:
        return statement
    leading = list(statement.leading_lines)
    first_comment = next((i for i, line in enumerate(leading) if line.comment is not None), len(leading))
    return statement.with_changes(leading_lines=[*leading[:first_comment], *lines, *leading[first_comment:]])


def source_span(positions, node: cst.CSTNode, source_lines: list[str]) -> LineSpan | None:
    """The lines of ``node`` in the original source; of a compound statement, its header only
    (up to its body's first statement, less the blank and comment lines before that)."""
    position = positions.get(node)
    if position is None:
        return None
    first, last = position.start.line, position.end.line
    body = getattr(node, "body", None)
    inner = getattr(body, "body", None)
    if isinstance(node, cst.BaseCompoundStatement) and inner and positions.get(inner[0]) is not None:
        last = positions[inner[0]].start.line - 1
        if isinstance(body, cst.SimpleStatementSuite):  # `if x: return y` on one line
            last = first
        while last > first and (not source_lines[last - 1].strip() or source_lines[last - 1].lstrip().startswith("#")):
            last -= 1
    return LineSpan(first, max(first, last))


def read_back(code: str, marks: LineMarks) -> tuple[str, list[tuple[int, LineSpan]]]:
    """Strip the markers from formatted ``code``: the clean code and (Flax span index, Flax lines) pairs."""
    pattern = marks.pattern()
    kept: list[str] = []
    found: list[tuple[int, int]] = []  # (marker index, 1-based line of the clean code it stood before)
    for line in code.splitlines(keepends=True):
        match = pattern.match(line.rstrip("\r\n"))
        if match:
            found.append((int(match.group(1)), len(kept) + 1))
        else:
            kept.append(line)
    clean = "".join(kept)
    try:
        statements = statement_blocks(ast.parse(clean))
    except SyntaxError:  # emitted code that does not parse is reported (I001); it has no line map
        return clean, []
    lines = clean.splitlines()
    starts = sorted(found, key=lambda pair: pair[1])
    out: list[tuple[int, LineSpan]] = []
    for position, (index, at) in enumerate(starts):
        following = starts[position + 1][1] if position + 1 < len(starts) else len(lines) + 1
        statement_line = next((n for n in range(at, len(lines) + 1) if is_code(lines[n - 1])), None)
        if statement_line is None or statement_line not in statements:
            continue
        header_end, block_end = statements[statement_line]
        last = min(header_end if header_end is not None else block_end, following - 1)
        while last > at and not lines[last - 1].strip():
            last -= 1
        out.append((index, LineSpan(at, max(at, last))))
    return clean, out


def is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def statement_blocks(tree: ast.Module) -> dict[int, tuple[int | None, int]]:
    """For each line where a statement starts: (last line of its header if compound, else None;
    the last line of the block it sits in). Decorated definitions start at their first decorator."""
    found: dict[int, tuple[int | None, int]] = {}

    def visit_block(statements: list[ast.stmt]) -> None:
        if not statements:
            return
        block_end = max(s.end_lineno or s.lineno for s in statements)
        for statement in statements:
            start = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
            children = [getattr(statement, name, None) for name in ("body", "orelse", "finalbody", "handlers", "cases")]
            blocks = [b for b in children if isinstance(b, list) and b and isinstance(b[0], (ast.stmt, ast.excepthandler, ast.match_case))]
            header = None
            if blocks:
                first_inner = min(inner_start(b[0]) for b in blocks)
                header = max(statement.lineno, first_inner - 1)
                if first_inner == statement.lineno:  # body on the header's line
                    header = statement.end_lineno or statement.lineno
            found.setdefault(start, (header, block_end))
            for block in blocks:
                if isinstance(block[0], ast.stmt):
                    visit_block(block)
                else:
                    for handler in block:
                        visit_block(handler.body)

    visit_block(tree.body)
    return found


def inner_start(node: ast.AST) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])


def mapped_code(code: str, marks: LineMarks | None, locate, path: str) -> tuple[str, tuple[MappedBlock, ...]]:
    """The formatted ``code`` without its markers, and its line map.

    ``locate(line)`` gives the (file, line) a line of the translated text came from (a file the
    source imports brings its definitions in, :mod:`translator.rewrite.local_imports`); None
    means ``path`` itself."""
    if marks is None:
        return code, ()
    clean, found = read_back(code, marks)
    blocks = []
    for index, flax in found:
        span = marks.spans[index]
        where = locate(span.first)
        file, first = where if where is not None else (path, span.first)
        blocks.append(MappedBlock(file, LineSpan(first, first + span.last - span.first), flax))
    return clean, tuple(blocks)
