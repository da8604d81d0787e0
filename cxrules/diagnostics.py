"""The one shape every problem takes, whichever stage finds it.

A :class:`Diagnostic` names a place in a file (1-based line and column), a stable code, a
plain-language message and, where one is known, a hint on how to fix it. Stages yield
diagnostics; reporters print them; nothing else decides how they look.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Severity", "Location", "Related", "Diagnostic", "sort_key"]


class Severity(str, enum.Enum):
    """How bad a finding is; only errors make a run fail unless ``--strict`` is given."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, order=True)
class Location:
    """A point in a source file; line and column count from 1."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Related:
    """Another place that explains a diagnostic ("overlaps with the rule at line 88")."""

    location: Location
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in an org, at one place, with a stable code."""

    code: str
    message: str
    location: Location
    severity: Severity = Severity.ERROR
    hint: str | None = None
    related: tuple[Related, ...] = field(default=())
    subject: str | None = None
    """Id of the item the finding is about (used to accept findings inline)."""

    def to_dict(self) -> dict:
        """Plain data for machine formats; the keys are part of the JSON output's contract."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "hint": self.hint,
            "subject": self.subject,
            "related": [
                {
                    "file": r.location.file,
                    "line": r.location.line,
                    "column": r.location.column,
                    "message": r.message,
                }
                for r in self.related
            ],
        }


def sort_key(diagnostic: Diagnostic) -> tuple:
    """Order by file, then position, then code, so output is stable between runs."""
    loc = diagnostic.location
    return (loc.file, loc.line, loc.column, diagnostic.code, diagnostic.message)
