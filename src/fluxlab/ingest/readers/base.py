"""What every reader yields: PointBatches, rejects and skipped lines of one piece of input."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from fluxlab.ingest.csvblocks import CsvBlock
from fluxlab.ingest.rejects import empty_rejects
from fluxlab.ingest.rowplan import RowPlan, apply_plan
from fluxlab.model.points import PointBatch


class ReaderError(ValueError):
    """The input cannot be read at all (no header, no measurement, unsupported type...)."""


@dataclass
class ReadChunk:
    """A piece of input, fully accounted: every data row is in a batch, a reject or skipped.

    `skipped_lines` lists the blank/comment lines when the reader knows them; readers
    that only know a count set `skipped_count` (then the lines list stays empty).
    """

    batches: list[PointBatch]
    rejects: pa.Table = field(default_factory=empty_rejects)
    skipped_lines: list[int] = field(default_factory=list)
    skipped_count: int = 0
    bytes_read: int = 0

    @property
    def rows_in_batches(self) -> int:
        return sum(b.num_rows for b in self.batches)

    @property
    def skipped(self) -> int:
        return max(self.skipped_count, len(self.skipped_lines))

    @property
    def rows_read(self) -> int:
        return self.rows_in_batches + self.rejects.num_rows + self.skipped


def planned_chunk(block: CsvBlock, plan: RowPlan, source: str) -> ReadChunk:
    """A parsed CSV block through its row plan: batches, and shape and value rejects in
    line order."""
    result = apply_plan(block.batch, block.lines, plan, source)
    rejects = pa.concat_tables([block.bad_rows, result.rejects]).sort_by("line")
    return ReadChunk(result.batches, rejects, result.skipped_lines, 0, block.bytes_read)
