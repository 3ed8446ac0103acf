"""One diagnostic type, used by every stage of the tool.

A :class:`Diagnostic` is something the translator could not translate (or could
only translate with a caveat), located at a span of the user's source.  A
:class:`UsageError` is bad input that stops the tool before any output is
written (missing file, syntax error, checkpoint that does not fit); the CLI turns
it into one line on stderr and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # the output is not a faithful translation at this spot
    WARNING = "warning"  # translated, but the user should review it


@dataclass(frozen=True)
class Diagnostic:
    """A located message with the code of the rule that raised it."""

    code: str
    message: str
    path: str
    line: int
    column: int
    severity: Severity = Severity.ERROR

    def format(self) -> str:
        """``FILE:LINE:COL: CODE message``, the format editors and scripts parse."""
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


class UsageError(Exception):
    """Bad input or usage: reported as one line, exit code 2, nothing written."""


class PortError(UsageError):
    """A checkpoint that does not fit the model; the message lists every offending key."""


class NoModelClass(UsageError):
    """A file with no ``nn.Module`` subclass the source translation reads (its classes may subclass a
    torch layer): nothing to translate from source, though a built model may still be."""


class TranslationFailed(UsageError):
    """A translation with error diagnostics was needed where only a clean one will do."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        lines = "\n".join(d.format() for d in diagnostics)
        super().__init__(f"the translation has {len(diagnostics)} unresolved construct(s):\n{lines}")
