"""Reports returned by the store: writes, collisions, type conflicts and checks.

They are plain dataclasses so the ingest account and the CLI can print them without
knowing anything about DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fluxlab.model.points import FieldType

MAX_EXAMPLES = 5
"""How many example rows a report keeps: enough to see the pattern, bounded memory."""


@dataclass
class FieldTypeConflict:
    """Rows rejected because a field already exists with another type (InfluxDB rule)."""

    measurement: str
    field: str
    existing: FieldType
    attempted: FieldType
    rows: int = 0
    example_line: int | None = None

    @property
    def message(self) -> str:
        """InfluxDB's wording, so users can search for it."""
        return (
            f'field type conflict: input field "{self.field}" on measurement '
            f'"{self.measurement}" is type {self.attempted}, already exists as type '
            f"{self.existing}"
        )

    def __str__(self) -> str:
        line = f" (first at line {self.example_line})" if self.example_line is not None else ""
        return f"{self.message}: {self.rows} rows rejected{line}"


@dataclass
class CollisionReport:
    """Points that replaced another point with the same series + field + time.

    `within_input`: rows that overwrote (or, with keep-first, were overwritten by) a row
    of the same write call; `with_existing`: rows that met a point already stored.
    Each example is a dict with keys measurement, tags (dict), time (ns), line (or None)
    and source ("input" or "existing").
    """

    within_input: int = 0
    with_existing: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.within_input + self.with_existing

    def add_examples(self, examples: list[dict[str, Any]]) -> None:
        room = MAX_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(examples[:room])


@dataclass
class WriteResult:
    """What a store.write call did with every input row.

    Every input row is in exactly one of: points_written (stored; some of them may
    have replaced another point, see collisions) or rows_rejected, which is the sum of
    rows_type_conflict (details in conflicts), rows_without_fields (no non-null field
    value) and rows_beyond_retention (older than the bucket's retention period).
    """

    points_written: int = 0
    rows_rejected: int = 0
    conflicts: list[FieldTypeConflict] = field(default_factory=list)
    collisions: CollisionReport = field(default_factory=CollisionReport)
    rows_type_conflict: int = 0
    rows_without_fields: int = 0
    rows_beyond_retention: int = 0
    rows_input: int = 0

    def add_conflict(self, conflict: FieldTypeConflict) -> None:
        """Merge with an earlier conflict on the same measurement/field/types."""
        for known in self.conflicts:
            same = (known.measurement, known.field, known.existing, known.attempted) == (
                conflict.measurement,
                conflict.field,
                conflict.existing,
                conflict.attempted,
            )
            if same:
                known.rows += conflict.rows
                if known.example_line is None:
                    known.example_line = conflict.example_line
                return
        self.conflicts.append(conflict)


@dataclass
class CheckReport:
    """Result of store.check(): ok is True when problems is empty."""

    problems: list[str] = field(default_factory=list)
    measurements: int = 0
    points: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems
