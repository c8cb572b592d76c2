"""What a decode hands back and how it fails: `LineError` (a rejected line), `DecodeResult`
(batches, errors and line counts) and `LineSyntaxError` (raised by the exact parser before it
becomes a `LineError`). They depend on nothing else in the codec, so every module and every
caller (ingest, backends) can import them without pulling in the parsers."""

from __future__ import annotations

from dataclasses import dataclass, field

from fluxlab.model.points import PointBatch

ERROR_TEXT_LIMIT = 200
"""Longest line excerpt kept in a `LineError` (long lines are truncated)."""


@dataclass(frozen=True)
class LineError:
    """A rejected line: where it is, what it says and why it was rejected."""

    source: str
    line: int
    column: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.message}: {self.text}"


@dataclass
class DecodeResult:
    """Everything one decode produced.

    Every input line is accounted for: `lines_read == lines_skipped + points +
    len(errors)` (skipped lines are blank or `#` comments).
    """

    batches: list[PointBatch] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0

    @property
    def points(self) -> int:
        return sum(batch.num_rows for batch in self.batches)


class LineSyntaxError(ValueError):
    """A line that is not valid line protocol; `column` is 0-based."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message
