"""Writing one commit chunk of a measurement (caller owns the transaction).

Steps:
1. schema on write: new tag keys become series-table columns, new field keys
   points-table columns;
2. every row gets its series id (series.py: hashing in Arrow/NumPy, only the distinct
   tag sets touch the series table), so the point key is (sid, time): two integers;
3. duplicates inside the chunk: candidates are rows whose mixed (sid, time) hash occurs
   twice (one NumPy sort); only those rows are grouped exactly (Polars) and merged field
   by field, keeping the last (or first) non-null value by input order, counted as
   within-input collisions;
4. points that already exist are found by an integer join on (sid, time) restricted to
   the chunk's time range; the stored row is deleted and replaced by the incoming row
   (or by both merged field by field, when the incoming row lacks some fields). The join
   is skipped when the chunk's time range cannot overlap what is stored (bounds kept in
   the catalog), so time-ordered appends are a plain INSERT; when only this call's own
   earlier chunks can overlap (an unsorted file), a Bloom filter of the keys it stored
   (`SeenKeys`) sends only its few hits to the join;
5. the rest is INSERTed (time, sid, write id, fields: no strings but string fields).
A write id column (`_w`) tells whether a stored row came from this same write call
(within-input collision across chunks) or from before.
"""

from __future__ import annotations

import functools
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.model.points import TIME_COLUMN, PointBatch
from fluxlab.storage.batches import LINE_COLUMN, ROW_COLUMN
from fluxlab.storage.catalog import SERIES_ID, WRITE_ID_COLUMN, Catalog, Column, Measurement
from fluxlab.storage.errors import CollisionError
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.results import MAX_EXAMPLES, CollisionReport
from fluxlab.storage.series import series_ids

STAGE = "_fl_stage"
MATCH = "_fl_match"
PROBE = "_fl_probe"
FULL = "_full"
KEEP = "_keep"  # false for input rows replaced by their merged duplicate group
MODES = ("keep-last", "keep-first", "error")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier: spreads time bits before mixing
_MEMBER_BITS = 20  # 1 MiB bitmap in _members: few false maybes per thousand duplicate keys


class ChunkWriter:
    """Writes chunks of one store.write call; keeps the collision report."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        mode: str,
        write_id: int,
        collisions: CollisionReport,
    ) -> None:
        self.con = con
        self.catalog = catalog
        self.mode = mode
        self.write_id = write_id
        self.collisions = collisions
        self._before: dict[str, tuple[int | None, int | None]] = {}  # stored time range
        self._seen: dict[str, SeenKeys] = {}  # keys this call stored, per measurement table
        self._first: dict[str, np.ndarray] = {}  # keys of a measurement's first chunk
        self._unfiltered: set[str] = set()  # over the memory budget: exact joins only

    def write(self, m: Measurement, batch: PointBatch) -> None:
        """Store a screened, normalized batch of measurement m."""
        self._before.setdefault(m.table, (m.min_time, m.max_time))
        tag_cols = [self._column(m, key, "tag", batch) for key in batch.tags]
        field_cols = [self._column(m, key, "field", batch) for key in batch.fields]
        sids = series_ids(self.con, self.catalog, m, batch, tag_cols)
        times = batch.table.column(TIME_COLUMN).to_numpy()
        stage = _stage_table(batch, sids, field_cols, self._complete(m, batch))
        candidates = _duplicate_candidates(times, sids)
        if candidates is not None:
            stage = self._dedup(m, batch, stage, candidates, field_cols)
        self.con.register(STAGE, stage)
        try:
            self._write_staged(m, batch, stage, field_cols, int(times.min()), int(times.max()))
        finally:
            self.con.unregister(STAGE)
            self.con.execute(f"DROP TABLE IF EXISTS {MATCH}")

    def _complete(self, m: Measurement, batch: PointBatch) -> pa.Array | None:
        """Rows that set every field of m: with keep-last they replace a stored point whole.

        None when no row can (keep-first keeps stored values; a field missing from the batch).
        """
        if self.mode == "keep-first" or set(m.fields) != set(batch.fields):
            return None
        valid = [pc.is_valid(batch.table.column(key)) for key in batch.fields]
        full = functools.reduce(pc.and_, valid) if valid else None
        return full.combine_chunks() if isinstance(full, pa.ChunkedArray) else full

    def _column(self, m: Measurement, key: str, kind: str, batch: PointBatch) -> Column:
        known = (m.tags if kind == "tag" else m.fields).get(key)
        if known is not None:
            return known
        ftype = batch.field_types()[key] if kind == "field" else None
        return self.catalog.add_column(self.con, m, key, kind, ftype)

    def _write_staged(
        self, m: Measurement, batch: PointBatch, stage: pa.Table, fields: list[Column], lo: int,
        hi: int,
    ) -> None:
        keys = _stage_keys(stage)
        keep = stage.column(KEEP).to_numpy()
        seen = self._filter_for(m)
        before_lo, before_hi = self._before[m.table]
        overlaps = m.min_time is not None and lo <= (m.max_time or 0) and hi >= m.min_time
        matched = 0
        if before_lo is not None and lo <= (before_hi or 0) and hi >= before_lo:
            matched = self._merge_existing(m, batch, fields, lo, hi, STAGE)  # points from before
        elif overlaps and seen is not None and not seen.saturated:
            # only points of this same call can match: the filter proves most rows new
            maybe = seen.may_contain(keys) & keep
            if maybe.any():
                matched = self._probe(m, batch, stage, maybe, fields, lo, hi)
        elif overlaps:
            matched = self._merge_existing(m, batch, fields, lo, hi, STAGE)
        cols = [c.name for c in fields]
        target = ", ".join(["time", SERIES_ID, WRITE_ID_COLUMN, *cols])
        select = ", ".join(["time", SERIES_ID, str(self.write_id), *cols])
        merged = f"(SELECT {ROW_COLUMN} FROM {MATCH} WHERE NOT {FULL})"
        anti = f" ANTI JOIN {merged} USING ({ROW_COLUMN})" if matched else ""
        self.con.execute(
            f"INSERT INTO {sql_ident(m.table)} ({target}) SELECT {select} FROM {STAGE}{anti} "
            f"WHERE {KEEP}"
        )
        self.catalog.widen_time_bounds(self.con, m, lo, hi)
        if seen is not None:
            seen.add(keys[keep])
        elif m.table not in self._unfiltered:  # m's first chunk in this call
            if self._room_for(keys.nbytes):
                self._first[m.table] = keys[keep]  # a filter is built if a second chunk comes
            else:
                self._unfiltered.add(m.table)

    def _filter_for(self, m: Measurement) -> SeenKeys | None:
        """m's filter; built from the first chunk's keys when a second chunk arrives, so
        single-chunk writes never pay for one. None beyond the memory budget (the exact
        join is used then, as without a filter)."""
        seen = self._seen.get(m.table)
        first = self._first.pop(m.table, None) if seen is None else None
        if first is None:
            return seen
        if not self._room_for(SeenKeys.NBYTES):
            self._unfiltered.add(m.table)  # a later filter would miss these keys
            return None
        seen = self._seen[m.table] = SeenKeys()
        seen.add(first)
        return seen

    def _room_for(self, nbytes: int) -> bool:
        used = sum(f.bits.nbytes for f in self._seen.values())
        used += sum(k.nbytes for k in self._first.values())
        return used + nbytes <= SeenKeys.BUDGET

    def _probe(
        self, m: Measurement, batch: PointBatch, stage: pa.Table, maybe: np.ndarray,
        fields: list[Column], lo: int, hi: int,
    ) -> int:
        """The exact merge for the rows the filter could not prove new (few)."""
        self.con.register(PROBE, stage.filter(pa.array(maybe)))
        try:
            return self._merge_existing(m, batch, fields, lo, hi, PROBE)
        finally:
            self.con.unregister(PROBE)

    # --- duplicates inside the chunk ------------------------------------------------------
    def _dedup(
        self,
        m: Measurement,
        batch: PointBatch,
        stage: pa.Table,
        candidates: np.ndarray,
        fields: list[Column],
    ) -> pa.Table:
        """Merge rows with the same (sid, time); only candidate rows are grouped."""
        keep_last = self.mode != "keep-first"
        suspects = pl.from_arrow(stage.filter(pa.array(candidates)).drop_columns([KEEP]))
        assert isinstance(suspects, pl.DataFrame)
        pick = [
            (pl.col(c.name).drop_nulls().last() if keep_last else pl.col(c.name).drop_nulls().first())
            for c in fields
        ]
        row = pl.col(ROW_COLUMN).max() if keep_last else pl.col(ROW_COLUMN).min()
        extra = [pl.col(LINE_COLUMN).last()] if LINE_COLUMN in stage.column_names else []
        merged = suspects.group_by([SERIES_ID, TIME_COLUMN]).agg(
            *pick, row, *extra, pl.len().alias("_n")
        )
        whole = self.mode != "keep-first" and set(m.fields) == set(batch.fields)
        present = [pl.col(c.name).is_not_null() for c in fields]
        merged = merged.with_columns(
            (pl.all_horizontal(present) if whole and present else pl.lit(False)).alias(FULL)
        )
        count = int((merged.get_column("_n") - 1).sum())
        if count == 0:
            return stage  # only hash look-alikes, no real duplicate
        repeated = merged.filter(pl.col("_n") > 1).sort(TIME_COLUMN)
        examples = self._examples(m, batch, repeated.head(self._room()), "input")
        if self.mode == "error":
            raise CollisionError(_collision_message(count, "inside the input", examples))
        self.collisions.within_input += count
        self.collisions.add_examples(examples)
        merged = merged.with_columns(pl.lit(True).alias(KEEP))
        kept = merged.select(stage.column_names).to_arrow().cast(stage.schema)
        # candidate rows stay in the (zero-copy) stage but are masked out by _keep
        masked = stage.set_column(
            stage.column_names.index(KEEP), KEEP, pa.chunked_array([pa.array(~candidates)])
        )
        return pa.concat_tables([masked, kept])

    # --- points already stored -------------------------------------------------------------
    def _merge_existing(
        self, m: Measurement, batch: PointBatch, fields: list[Column], lo: int, hi: int,
        probe: str,
    ) -> int:
        """Merge rows whose (sid, time) is already stored; returns how many (0: none).

        The key join reads only time, sid and the write id of the stored rows in the
        chunk's time range, for the stage rows in `probe` (the stage or a subset of it).
        With keep-last, an incoming row that has a value for every field of the
        measurement replaces the stored row; other rows are merged field by field.
        """
        table = sql_ident(m.table)
        self.con.execute(
            f"CREATE TEMP TABLE {MATCH} AS SELECT e.rowid AS _rid, e.{WRITE_ID_COLUMN} AS _ow, "
            f"s.{ROW_COLUMN} AS {ROW_COLUMN}, s.{FULL} AS {FULL} FROM (SELECT rowid, time, {SERIES_ID}, "
            f"{WRITE_ID_COLUMN} FROM {table} WHERE time BETWEEN make_timestamp_ns({lo}) AND "
            f"make_timestamp_ns({hi})) e JOIN {probe} s ON e.{SERIES_ID} = s.{SERIES_ID} "
            f"AND e.time = s.time WHERE s.{KEEP}"
        )
        counts = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _ow = {self.write_id}) FROM {MATCH}"
        ).fetchall()[0]
        total, same_write = int(counts[0]), int(counts[1])
        if not total:
            return 0
        line = f"s.{LINE_COLUMN}" if LINE_COLUMN in batch.table.column_names else "NULL"
        found = pl.from_arrow(self.con.sql(
            f"SELECT s.{ROW_COLUMN}, s.time, {line} AS {LINE_COLUMN} FROM {MATCH} "
            f"JOIN {STAGE} s USING ({ROW_COLUMN}) WHERE s.{KEEP} ORDER BY s.time "
            f"LIMIT {self._room()}"
        ).to_arrow_table())
        assert isinstance(found, pl.DataFrame)
        examples = self._examples(m, batch, found, "existing")
        if self.mode == "error":
            raise CollisionError(_collision_message(total, "with stored points", examples))
        self.collisions.within_input += same_write
        self.collisions.with_existing += total - same_write
        self.collisions.add_examples(examples)
        # Rows that replace every field are inserted as they are; the others are merged
        # field by field into a new row. Either way the stored row is deleted: no UPDATE
        # (it costs more than the insert, and makes the next checkpoint rewrite every
        # row group it touched).
        self._insert_merged(m, fields, lo, hi)
        self.con.execute(
            f"DELETE FROM {table} WHERE time BETWEEN make_timestamp_ns({lo}) AND "
            f"make_timestamp_ns({hi}) AND rowid IN (SELECT _rid FROM {MATCH})"
        )
        return total

    def _insert_merged(self, m: Measurement, fields: list[Column], lo: int, hi: int) -> None:
        """Insert stored rows merged with their partial incoming rows (as `coalesce`)."""
        table = sql_ident(m.table)
        merged = {c.name for c in fields}
        first, second = ("e", "x") if self.mode == "keep-first" else ("x", "e")
        columns = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]
        values = [
            str(self.write_id) if name == WRITE_ID_COLUMN
            else f"coalesce({first}.{name}, {second}.{name})" if name in merged
            else f"e.{name}"
            for name in columns
        ]
        self.con.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM "
            f"(SELECT mt._rid, s.* FROM {MATCH} mt JOIN {STAGE} s USING ({ROW_COLUMN}) "
            f"WHERE s.{KEEP} AND NOT mt.{FULL}) x JOIN (SELECT rowid AS _erid, * FROM {table} "
            f"WHERE time BETWEEN make_timestamp_ns({lo}) AND make_timestamp_ns({hi})) e "
            f"ON e._erid = x._rid"
        )

    def _room(self) -> int:
        """How many examples are still wanted (at least 1 for an error message)."""
        return max(MAX_EXAMPLES - len(self.collisions.examples), 1)

    def _examples(
        self, m: Measurement, batch: PointBatch, found: pl.DataFrame, source: str
    ) -> list[dict[str, Any]]:
        """Example dicts for a few colliding rows: their tags come from the input rows."""
        if len(self.collisions.examples) >= MAX_EXAMPLES and self.mode != "error":
            return []
        rns = found.get_column(ROW_COLUMN).to_numpy()
        tags: list[dict[str, Any]] = [{} for _ in rns]
        if batch.tags:
            tags = batch.table.select(list(batch.tags)).take(pa.array(rns)).to_pylist()
        times = found.get_column(TIME_COLUMN).cast(pl.Int64).to_list()
        lines = (
            found.get_column(LINE_COLUMN).to_list()
            if LINE_COLUMN in found.columns
            else [None] * len(rns)
        )
        return [
            {
                "measurement": m.name,
                "tags": {k: v for k, v in row_tags.items() if v is not None},
                "time": t,
                "line": line,
                "source": source,
            }
            for row_tags, t, line in zip(tags, times, lines, strict=True)
        ]


class SeenKeys:
    """Approximate set (a Bloom filter) of the (sid, time) keys one write call stored in a
    measurement.

    Why: the chunks of an unsorted file overlap in time, so each chunk after the first
    had to be joined with every stored row of its time range to find collisions: cost
    growing with the rows already written. When the measurement held nothing in that
    range before the call, only this call's own keys can match; the filter proves most
    rows new (no false negatives) and only its hits go to the exact join. Memory is fixed
    (16 MiB: about 2% false hits at 10M keys; at most `BUDGET` per call); a filter filled
    beyond its design is marked saturated and the exact join is used again.
    Blocked: a key's two bits are in one 64-bit word, so adding or testing a key touches
    one random cache line, not two (random reads of 16 MiB dominate its cost).
    """

    LOG_BITS = 27
    NBYTES = 1 << (LOG_BITS - 3)
    BUDGET = 64 << 20  # bytes of filters (and first-chunk keys) per write call
    _LOG_WORDS = LOG_BITS - 6
    _MIX_A = np.uint64(0xBF58476D1CE4E5B9)
    _MIX_B = np.uint64(0x94D049BB133111EB)

    def __init__(self) -> None:
        self.bits = np.zeros(self.NBYTES // 8, dtype=np.uint64)
        self.count = 0
        self.saturated = False

    def _positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(word index, mask of the key's two bits in that word) per key."""
        mixed = (keys ^ (keys >> np.uint64(31))) * self._MIX_A
        mixed = (mixed ^ (mixed >> np.uint64(29))) * self._MIX_B
        word = (mixed >> np.uint64(64 - self._LOG_WORDS)).astype(np.intp)
        one = np.uint64(1)
        mask = (one << (mixed & np.uint64(63))) | (one << ((mixed >> np.uint64(6)) & np.uint64(63)))
        return word, mask

    def add(self, keys: np.ndarray) -> None:
        self.count += len(keys)
        if self.count > (1 << self.LOG_BITS) // 12:  # beyond ~2% false hits
            self.saturated = True
            return
        word, mask = self._positions(keys)
        # A buffered `|=` keeps one of several keys that share a word; the keys whose bits
        # did not land are set again (a few rounds, on ever fewer keys). Exact, and ~5x
        # faster than the unbuffered np.bitwise_or.at.
        while word.size:
            self.bits[word] |= mask
            lost = (self.bits[word] & mask) != mask
            word, mask = word[lost], mask[lost]

    def may_contain(self, keys: np.ndarray) -> np.ndarray:
        word, mask = self._positions(keys)
        return (self.bits[word] & mask) == mask


def _stage_keys(stage: pa.Table) -> np.ndarray:
    """One 64-bit value per stage row mixing (sid, time): equal keys give equal values."""
    times = stage.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
    sids = stage.column(SERIES_ID).to_numpy()
    return (times.view(np.uint64) * GOLDEN) ^ sids.view(np.uint64)


def _stage_table(
    batch: PointBatch, sids: np.ndarray, fields: list[Column], complete: pa.Array | None
) -> pa.Table:
    """The rows as they are stored: time as ts[ns], sid, physical field names, input order,
    and whether the row sets every field (`_full`)."""
    table = batch.table
    arrays = {
        TIME_COLUMN: table.column(TIME_COLUMN).cast(pa.timestamp("ns")),
        SERIES_ID: pa.chunked_array([pa.array(sids, pa.int64())]),
    }
    for key, col in zip(batch.fields, fields, strict=True):
        arrays[col.name] = table.column(key)
    arrays[ROW_COLUMN] = pa.chunked_array([pa.array(np.arange(table.num_rows, dtype=np.int64))])
    if complete is None:
        complete = pa.array(np.zeros(table.num_rows, dtype=bool))
    arrays[FULL] = pa.chunked_array([complete])
    arrays[KEEP] = pa.chunked_array([pa.array(np.ones(table.num_rows, dtype=bool))])
    if LINE_COLUMN in table.column_names:
        arrays[LINE_COLUMN] = table.column(LINE_COLUMN)
    return pa.table(arrays)


def _duplicate_candidates(times: np.ndarray, sids: np.ndarray) -> np.ndarray | None:
    """Rows that may share (sid, time) with another row; None when none can.

    Strictly increasing times (time-ordered input) prove there is none. Otherwise the
    two keys are mixed into one 64-bit value and values seen twice are flagged: every
    real duplicate is flagged; the rare look-alike is sorted out by the exact group-by.
    """
    if len(times) < 2 or (np.diff(times) > 0).all():
        return None
    mixed = (times.view(np.uint64) * GOLDEN) ^ sids.view(np.uint64)
    ordered = np.sort(mixed)  # a plain sort: cheaper than unique's argsort
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return None
    return _members(mixed, np.unique(repeated))


def _members(values: np.ndarray, few: np.ndarray) -> np.ndarray:
    """`np.isin(values, few)` for few << len(values), without isin's sort of everything:
    a bitmap of the top bits of `few` passes the rare maybe-rows to the exact isin."""
    shift = np.uint64(64 - _MEMBER_BITS)
    bitmap = np.zeros(1 << _MEMBER_BITS, dtype=bool)
    bitmap[(few >> shift).astype(np.intp)] = True
    maybe = np.flatnonzero(bitmap[(values >> shift).astype(np.intp)])
    found = np.zeros(len(values), dtype=bool)
    found[maybe] = np.isin(values[maybe], few)
    return found


def _collision_message(count: int, where: str, examples: list[dict[str, Any]]) -> str:
    shown = "; ".join(_describe(e) for e in examples[:3])
    return (
        f"{count} points collide {where} (same measurement, tag set and time) and "
        f'on_collision="error": nothing was written. Examples: {shown}. Add a tag that '
        "tells them apart, use a finer time column, or choose keep-last / keep-first."
    )


def _describe(example: dict[str, Any]) -> str:
    tags = ",".join(f"{k}={v}" for k, v in sorted(example["tags"].items()))
    line = f" (line {example['line']})" if example.get("line") is not None else ""
    series = example["measurement"] + ("," + tags if tags else "")
    return f"{series} @ {example['time']}{line}"
