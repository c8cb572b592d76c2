"""The one entry point the CLI calls: read a file or stream, account for every row, write.

    account = ingest_file(store, "bucket", "data.csv", mapping="map.toml",
                          max_errors=100, rejects_path="rejects.csv")

Flow: a reader yields chunks (batches + rejects) → field types are checked against
the bucket → the error budget is applied (the run stops at the first reject beyond
`max_errors`; rows before it are kept) → optionally an external time sort → one
`store.write` call (so collisions within the whole input are reported as such), or
line protocol to a text stream for a dry run. The returned `IngestAccount`
balances: rows read = written + rejected + skipped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.ingest.account import IngestAccount
from fluxlab.ingest.csvblocks import DEFAULT_BLOCK_SIZE, LINE_COLUMN
from fluxlab.ingest.detect import check_format, detect_format
from fluxlab.ingest.mapping import Mapping, load_mapping
from fluxlab.ingest.prefetch import prefetch
from fluxlab.ingest.progress import IngestProgress
from fluxlab.ingest.readers.annotated import read_annotated_csv
from fluxlab.ingest.readers.base import ReadChunk
from fluxlab.ingest.readers.lineprotocol import DEFAULT_CHUNK_BYTES, read_line_protocol
from fluxlab.ingest.readers.mapped import read_mapped_csv
from fluxlab.ingest.rejects import RejectsWriter, make_rejects, reject_to_text
from fluxlab.ingest.sort import DEFAULT_MEMORY_LIMIT, sort_by_time
from fluxlab.ingest.sources import OpenedSource, spool_stream
from fluxlab.ingest.typeguard import TypeGuard
from fluxlab.model.lineprotocol import encode_batch
from fluxlab.model.points import PointBatch
from fluxlab.model.precision import Precision

UNLIMITED = -1
"""`max_errors` value meaning: never stop, reject and continue."""

PREFETCH_BATCHES = 8
"""Batches prepared ahead of the store (~35K rows, ~5 MB each from Hartford-shaped CSV):
enough to keep reading/transforming while a ~500K-row chunk is committed; a deeper
queue added peak RSS without making loads faster on 2 cores."""


@dataclass
class IngestOptions:
    """Everything that shapes a run besides the store, bucket and input."""

    format: str = "auto"
    mapping: Mapping | str | Path | None = None
    precision: Precision | str = Precision.NS
    max_errors: int = 0
    rejects_path: str | Path | None = None
    dry_run: TextIO | None = None
    sort: bool = False
    on_collision: str = "keep-last"
    progress: bool | None = None
    source_name: str | None = None
    block_size: int | None = None  # None: each reader's default
    sort_memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_dir: str | Path | None = None
    now_ns: int | None = None


def ingest_file(
    store: Any | None,
    bucket: str | None,
    path: str | Path,
    *,
    format: str = "auto",
    mapping: Mapping | str | Path | None = None,
    precision: Precision | str = Precision.NS,
    max_errors: int = 0,
    rejects_path: str | Path | None = None,
    dry_run: TextIO | None = None,
    sort: bool = False,
    on_collision: str = "keep-last",
    progress: bool | None = None,
    source_name: str | None = None,
    block_size: int | None = None,
    sort_memory_limit: str = DEFAULT_MEMORY_LIMIT,
    temp_dir: str | Path | None = None,
    now_ns: int | None = None,
) -> IngestAccount:
    """Load one file (plain or .gz) into `bucket`; see the module docstring.

    `max_errors`: rejected rows tolerated before stopping (0: stop at the first,
    -1: never stop). `dry_run`: a text stream that receives the line protocol that
    would be written; nothing is written and `store` may be None. `progress`: None
    shows a bar only when stderr is a terminal.
    """
    options = IngestOptions(
        format, mapping, precision, max_errors, rejects_path, dry_run, sort, on_collision,
        progress, source_name, block_size, sort_memory_limit, temp_dir, now_ns,
    )
    return _Run(store, bucket, Path(path), options).execute()


def ingest_stream(
    store: Any | None,
    bucket: str | None,
    stream: BinaryIO | TextIO,
    *,
    source_name: str = "<stdin>",
    suffix: str = "",
    **options: Any,
) -> IngestAccount:
    """Like `ingest_file` for a stream (stdin; binary or text): spooled to a temp file first.

    Spooling keeps memory bounded and gives exact byte progress and format sniffing;
    pass `suffix` (".csv", ".lp", ".gz") to help format detection.
    """
    temp = spool_stream(stream, directory=options.get("temp_dir"), suffix=suffix)
    try:
        return ingest_file(store, bucket, temp, source_name=source_name, **options)
    finally:
        temp.unlink(missing_ok=True)


class _Run:
    """One ingest run: owns the account, rejects writer, budget and type guard."""

    def __init__(self, store: Any | None, bucket: str | None, path: Path, opts: IngestOptions):
        self.store, self.bucket, self.path, self.opts = store, bucket, path, opts
        self.mapping = (
            load_mapping(opts.mapping) if isinstance(opts.mapping, str | Path) else opts.mapping
        )
        self.precision = Precision.parse(opts.precision)
        fmt = check_format(opts.format, has_mapping=self.mapping is not None)
        self.format = detect_format(path, has_mapping=self.mapping is not None) if fmt == "auto" else fmt
        self.source = opts.source_name or str(path)
        self.account = IngestAccount(
            source=self.source,
            format=self.format,
            dry_run=opts.dry_run is not None,
            sorted=opts.sort,
            rejects_path=str(opts.rejects_path) if opts.rejects_path else None,
        )
        self.rejects = RejectsWriter(opts.rejects_path)
        self.guard = TypeGuard(store, bucket)
        self.rows_sent = 0
        if store is None and opts.dry_run is None:
            raise ValueError("a store is required unless dry_run is given")

    def execute(self) -> IngestAccount:
        started = time.perf_counter()
        try:
            with OpenedSource(self.path) as opened, IngestProgress(
                f"ingest {self.path.name}", opened.size, self.opts.progress
            ) as bar:
                batches: Iterable[PointBatch] = prefetch(
                    self._accounted(self._chunks(opened), bar),
                    depth=PREFETCH_BATCHES,
                    name="fluxlab-ingest",
                )
                if self.opts.sort:
                    batches = sort_by_time(
                        batches, memory_limit=self.opts.sort_memory_limit, temp_dir=self.opts.temp_dir
                    )
                if self.opts.dry_run is not None:
                    self._dry_run(batches, self.opts.dry_run)
                else:
                    self._write(batches)
                self.account.bytes_read = opened.bytes_read
        finally:
            self.rejects.close()
            self.account.elapsed_s = time.perf_counter() - started
        return self.account

    def _chunks(self, opened: OpenedSource) -> Iterator[ReadChunk]:
        now = time.time_ns() if self.opts.now_ns is None else self.opts.now_ns
        if self.format == "lp":
            return read_line_protocol(
                opened, source=self.source, precision=self.precision, now_ns=now,
                chunk_bytes=self.opts.block_size or DEFAULT_CHUNK_BYTES,
            )
        if self.format == "csv":
            assert self.mapping is not None
            return read_mapped_csv(
                opened, self.mapping, source=self.source,
                block_size=self.opts.block_size or DEFAULT_BLOCK_SIZE,
            )
        return read_annotated_csv(
            opened, source=self.source, precision_ns=self.precision.multiplier, now_ns=now,
            block_size=self.opts.block_size or DEFAULT_BLOCK_SIZE,
        )

    # -- accounting -----------------------------------------------------------------

    def _accounted(self, chunks: Iterator[ReadChunk], bar: IngestProgress) -> Iterator[PointBatch]:
        """Apply type checks and the error budget; count everything; yield batches to write."""
        measurements: dict[str, None] = {}
        with contextlib.closing(chunks):  # type: ignore[type-var]
            for chunk in chunks:
                batches, rejects = self._guard_types(chunk)
                stop_line = self._budget_stop(rejects)
                if stop_line is not None:
                    batches, rejects, chunk = _truncate(batches, rejects, chunk, stop_line)
                self._count(batches, rejects, chunk)
                for batch in batches:
                    measurements.setdefault(batch.measurement)
                    yield batch
                bar.update(chunk.bytes_read, self.account.rows_read)
                if stop_line is not None:
                    self._stop(stop_line)
                    break
        self.account.measurements = list(measurements)

    def _guard_types(self, chunk: ReadChunk) -> tuple[list[PointBatch], pa.Table]:
        kept: list[PointBatch] = []
        rejects = [chunk.rejects]
        for batch in chunk.batches:
            good, bad = self.guard.check(batch, self.source)
            if good is not None:
                kept.append(good)
            rejects.append(bad)
        table = pa.concat_tables(rejects) if len(rejects) > 1 else rejects[0]
        return kept, table.sort_by("line") if table.num_rows > 1 else table

    def _budget_stop(self, rejects: pa.Table) -> int | None:
        """The line of the first reject beyond the budget, or None."""
        if self.opts.max_errors < 0 or rejects.num_rows == 0:
            return None
        allowed = self.opts.max_errors - self.account.rows_rejected
        if rejects.num_rows <= allowed:
            return None
        return int(rejects.column("line")[max(allowed, 0)].as_py())

    def _count(self, batches: list[PointBatch], rejects: pa.Table, chunk: ReadChunk) -> None:
        rows = sum(b.num_rows for b in batches)
        self.rows_sent += rows
        self.account.rows_read += rows + rejects.num_rows + chunk.skipped
        self.account.rows_rejected += rejects.num_rows
        self.account.rows_skipped += chunk.skipped
        if rejects.num_rows:
            if self.account.first_error is None:
                self.account.first_error = reject_to_text(rejects.slice(0, 1).to_pylist()[0])
            self.rejects.write(rejects)

    def _stop(self, stop_line: int) -> None:
        self.account.stopped_early = True
        self.account.stop_reason = (
            f"more than {self.opts.max_errors} rejected row(s): stopped at line {stop_line} "
            f"of {self.source}; rows before it were kept, the rest of the file was not read. "
            "Fix the input or raise --max-errors (-1 = no limit)."
        )

    # -- output ---------------------------------------------------------------------

    def _write(self, batches: Iterable[PointBatch]) -> None:
        result = self.store.write(self.bucket, batches, on_collision=self.opts.on_collision)
        self.account.add_store_result(result, self.rows_sent)
        self.account.rows_written = min(self.account.rows_written, self.rows_sent)
        conflicts = list(getattr(result, "conflicts", []) or [])
        for conflict in conflicts:
            self.account.type_conflicts.append(str(conflict))
        if conflicts:
            self.rejects.write(
                make_rejects(
                    self.source,
                    [c.example_line if c.example_line is not None else 0 for c in conflicts],
                    [c.field for c in conflicts],
                    [None] * len(conflicts),
                    [f"{c} (rejected by the store; line is the first example)" for c in conflicts],
                    [None] * len(conflicts),
                )
            )
        self._other_store_rejects(result)

    def _other_store_rejects(self, result: Any) -> None:
        """Rows the store refused for reasons of its own (e.g. older than retention)."""
        beyond = int(getattr(result, "rows_beyond_retention", 0) or 0)
        if beyond:
            self.account.type_conflicts.append(
                f"{beyond} row(s) older than the bucket's retention period were rejected"
            )

    def _dry_run(self, batches: Iterable[PointBatch], out: TextIO) -> None:
        for batch in batches:
            lines = encode_batch(_without_line(batch), self.precision)
            if len(lines):
                out.write(pl.Series(lines).str.join("\n").item())
                out.write("\n")
            self.account.rows_written += batch.num_rows


def _without_line(batch: PointBatch) -> PointBatch:
    if LINE_COLUMN not in batch.table.column_names:
        return batch
    return PointBatch(batch.measurement, batch.table.drop_columns([LINE_COLUMN]), batch.tags,
                      batch.fields)


def _truncate(
    batches: list[PointBatch], rejects: pa.Table, chunk: ReadChunk, stop_line: int
) -> tuple[list[PointBatch], pa.Table, ReadChunk]:
    """Keep what comes before the stopping reject (and the reject itself)."""
    kept = []
    for batch in batches:
        table = batch.table.filter(pc.less(batch.table.column(LINE_COLUMN), stop_line))
        if table.num_rows:
            kept.append(PointBatch(batch.measurement, table, batch.tags, batch.fields))
    rejects = rejects.filter(pc.less_equal(rejects.column("line"), stop_line))
    if chunk.skipped_lines:
        skipped = [line for line in chunk.skipped_lines if line < stop_line]
        chunk = ReadChunk([], skipped_lines=skipped, bytes_read=chunk.bytes_read)
    return kept, rejects, chunk
