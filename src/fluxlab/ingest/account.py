"""The ingest account: where every input row went.

The promise to the user is an exact balance — rows read = written + rejected +
skipped — plus collisions (rows that overwrote another row of this input or an
existing point, InfluxDB's silent last-write-wins) reported separately, so a
load never loses data without saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

COLLISION_ADVICE = (
    "rows with the same measurement, tag set, field and time overwrite each other; "
    "add a distinguishing tag, use a finer time column, or choose "
    "--on-collision error|keep-last|keep-first"
)


@dataclass
class IngestAccount:
    """Counts for one ingest run; `balanced` checks the promise above."""

    source: str
    format: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    type_conflict_rows: int = 0
    beyond_retention_rows: int = 0
    without_fields_rows: int = 0
    points_written: int = 0
    collisions_within_input: int = 0
    collisions_with_existing: int = 0
    collision_examples: list[dict[str, Any]] = field(default_factory=list)
    type_conflicts: list[str] = field(default_factory=list)
    measurements: list[str] = field(default_factory=list)
    bytes_read: int = 0
    elapsed_s: float = 0.0
    dry_run: bool = False
    sorted: bool = False
    stopped_early: bool = False
    stop_reason: str | None = None
    first_error: str | None = None
    rejects_path: str | None = None

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_written + self.rows_rejected + self.rows_skipped

    @property
    def collisions(self) -> int:
        return self.collisions_within_input + self.collisions_with_existing

    @property
    def exit_code(self) -> int:
        """0 when the run completed within its error budget, 1 when it stopped early."""
        return 1 if self.stopped_early else 0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["balanced"] = self.balanced
        out["collisions"] = self.collisions
        out["exit_code"] = self.exit_code
        return out

    def add_store_result(self, result: Any, rows_sent: int) -> None:
        """Fold a storage WriteResult in: type-conflict rows count as rejected."""
        rejected = int(getattr(result, "rows_rejected", 0) or 0)
        conflict_rows = int(getattr(result, "rows_type_conflict", rejected) or 0)
        self.rows_written += rows_sent - rejected
        self.rows_rejected += rejected
        self.type_conflict_rows += conflict_rows
        self.beyond_retention_rows += int(getattr(result, "rows_beyond_retention", 0) or 0)
        self.without_fields_rows += int(getattr(result, "rows_without_fields", 0) or 0)
        self.points_written += int(getattr(result, "points_written", 0) or 0)
        collisions = getattr(result, "collisions", None)
        if collisions is not None:
            self.collisions_within_input += int(getattr(collisions, "within_input", 0) or 0)
            self.collisions_with_existing += int(getattr(collisions, "with_existing", 0) or 0)
            room = 5 - len(self.collision_examples)
            if room > 0:
                self.collision_examples.extend(list(getattr(collisions, "examples", []))[:room])

    def rich_table(self) -> Table:
        """A two-column summary for the terminal."""
        title = f"ingest {self.source}" + (" (dry run)" if self.dry_run else "")
        table = Table(title=title, show_header=False)
        table.add_column("what", style="bold")
        table.add_column("count", justify="right")
        verb = "would be written" if self.dry_run else "written"
        rows = [
            ("rows read", f"{self.rows_read:,}"),
            (f"rows {verb}", f"{self.rows_written:,}"),
            ("rows rejected", f"{self.rows_rejected:,}"),
            ("  of which type conflicts", f"{self.type_conflict_rows:,}"),
            *(
                [("  of which older than the bucket's retention", f"{self.beyond_retention_rows:,}")]
                if self.beyond_retention_rows
                else []
            ),
            *(
                [("  of which with no field values", f"{self.without_fields_rows:,}")]
                if self.without_fields_rows
                else []
            ),
            ("rows skipped (blank/comment)", f"{self.rows_skipped:,}"),
            ("collisions within input", f"{self.collisions_within_input:,}"),
            ("collisions with existing points", f"{self.collisions_with_existing:,}"),
            ("balanced", "yes" if self.balanced else "NO"),
            ("time", f"{self.elapsed_s:.2f} s ({self.rows_per_second:,.0f} rows/s)"),
        ]
        for what, count in rows:
            table.add_row(what, count)
        if self.rejects_path and self.rows_rejected:
            table.add_row("rejects file", escape(self.rejects_path))
        if self.first_error:
            table.add_row("first error", escape(self.first_error))
        if self.stopped_early:
            table.add_row("[red]stopped[/red]", escape(self.stop_reason or ""))
        if self.collisions:
            table.add_row("collision advice", COLLISION_ADVICE)
        for conflict in self.type_conflicts[:5]:
            table.add_row("type conflict", escape(conflict))
        return table
