"""Writing one commit chunk into a measurement table (caller owns the transaction).

Steps, all in SQL over the registered Arrow chunk:
1. schema on write: add columns for new tag/field keys;
2. duplicates inside the chunk (same tags + time): merged field by field, keeping the
   last (or first) non-null value by input order, counted as within-input collisions;
3. points that already exist (same tags + time) are found by a join on the key
   columns only, restricted to the chunk's time range, and merged into the stored row
   field by field with an UPDATE by rowid; the join is skipped when the chunk's time
   range cannot overlap what is stored (bounds kept in the catalog), so first loads
   and time-ordered appends are a plain INSERT;
4. the rest is INSERTed.
Collisions are counted per step; a row id column (`_w`, the write id) tells whether
a stored row came from this same write call (within-input) or from before.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from fluxlab.model.points import TIME_COLUMN, PointBatch
from fluxlab.storage.batches import LINE_COLUMN, ROW_COLUMN
from fluxlab.storage.catalog import WRITE_ID_COLUMN, Catalog, Column, Measurement
from fluxlab.storage.errors import CollisionError
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.results import MAX_EXAMPLES, CollisionReport

STAGE = "_fl_stage"
DEDUP = "_fl_dedup"
MATCH = "_fl_match"
MODES = ("keep-last", "keep-first", "error")


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

    def write(self, m: Measurement, batch: PointBatch) -> None:
        """Store a screened, normalized batch of measurement m."""
        tag_cols = [self._column(m, key, "tag", batch) for key in batch.tags]
        field_cols = [self._column(m, key, "field", batch) for key in batch.fields]
        stage = _stage_table(batch, tag_cols, field_cols)
        self.con.register(STAGE, stage)
        try:
            self._write_staged(m, stage, tag_cols, field_cols)
        finally:
            self.con.unregister(STAGE)
            self.con.execute(f"DROP TABLE IF EXISTS {DEDUP}")
            self.con.execute(f"DROP TABLE IF EXISTS {MATCH}")

    def _column(self, m: Measurement, key: str, kind: str, batch: PointBatch) -> Column:
        known = (m.tags if kind == "tag" else m.fields).get(key)
        if known is not None:
            return known
        ftype = batch.field_types()[key] if kind == "field" else None
        return self.catalog.add_column(self.con, m, key, kind, ftype)

    def _write_staged(
        self, m: Measurement, stage: pa.Table, tags: list[Column], fields: list[Column]
    ) -> None:
        times = stage.column(TIME_COLUMN).cast(pa.int64()).to_numpy()
        lo, hi = int(times.min()), int(times.max())
        has_line = LINE_COLUMN in stage.column_names
        source = STAGE
        if _may_have_duplicates(times) and self._count_duplicates(tags) > 0:
            source = self._dedup(m, tags, fields, has_line)
        overlaps = m.min_time is not None and lo <= (m.max_time or 0) and hi >= m.min_time
        matched = self._merge_existing(m, source, tags, fields, lo, hi, has_line) if overlaps else 0
        cols = [c.name for c in (*tags, *fields)]
        target = ", ".join(["time", WRITE_ID_COLUMN, *cols])
        select = ", ".join(["time", str(self.write_id), *cols])
        anti = f" ANTI JOIN {MATCH} USING ({ROW_COLUMN})" if matched else ""
        self.con.execute(
            f"INSERT INTO {sql_ident(m.table)} ({target}) SELECT {select} FROM {source}{anti}"
        )
        self.catalog.widen_time_bounds(self.con, m, lo, hi)

    # --- duplicates inside the chunk ------------------------------------------------------
    def _count_duplicates(self, tags: list[Column]) -> int:
        """Rows minus distinct key hashes: 0 proves there are no duplicate keys."""
        keys = ", ".join(["time", *(c.name for c in tags)])
        row = self.con.execute(f"SELECT count(*) - count(DISTINCT hash({keys})) FROM {STAGE}")
        return int(row.fetchall()[0][0])

    def _dedup(
        self, m: Measurement, tags: list[Column], fields: list[Column], has_line: bool
    ) -> str:
        keep_last = self.mode != "keep-first"
        pick = "arg_max" if keep_last else "arg_min"
        keys = ", ".join(["time", *(c.name for c in tags)])
        merged = ", ".join(f"{pick}({c.name}, {ROW_COLUMN}) AS {c.name}" for c in fields)
        row = f"{'max' if keep_last else 'min'}({ROW_COLUMN}) AS {ROW_COLUMN}"
        line = f", arg_max({LINE_COLUMN}, {ROW_COLUMN}) AS {LINE_COLUMN}" if has_line else ""
        self.con.execute(
            f"CREATE TEMP TABLE {DEDUP} AS SELECT {keys}, {merged}, {row}, "
            f"count(*) AS _n{line} FROM {STAGE} GROUP BY {keys}"
        )
        extra = self.con.execute(f"SELECT coalesce(sum(_n - 1), 0) FROM {DEDUP}").fetchall()[0]
        count = int(extra[0])
        if count:
            examples = self._examples(m, DEDUP, tags, "_n > 1", has_line, "input")
            if self.mode == "error":
                raise CollisionError(_collision_message(count, "inside the input", examples))
            self.collisions.within_input += count
            self.collisions.add_examples(examples)
        return DEDUP

    # --- points already stored -------------------------------------------------------------
    def _merge_existing(
        self,
        m: Measurement,
        source: str,
        tags: list[Column],
        fields: list[Column],
        lo: int,
        hi: int,
        has_line: bool,
    ) -> int:
        """Merge rows whose key is already stored; returns how many (0: nothing done).

        The key join reads only time, tags and the write id; the merge is an UPDATE of
        the incoming field columns by rowid, so tags are never rewritten.
        """
        written = {c.name for c in tags}
        on = ["e.time = s.time"]
        for col in m.tags.values():
            side = f"s.{col.name}" if col.name in written else "NULL"
            on.append(f"e.{col.name} IS NOT DISTINCT FROM {side}")
        table = sql_ident(m.table)
        key_cols = ", ".join(["rowid", "time", WRITE_ID_COLUMN, *(c.name for c in m.tags.values())])
        self.con.execute(
            f"CREATE TEMP TABLE {MATCH} AS SELECT e.rowid AS _rid, e.{WRITE_ID_COLUMN} AS _ow, "
            f"s.{ROW_COLUMN} AS {ROW_COLUMN} FROM (SELECT {key_cols} FROM {table} "
            f"WHERE time BETWEEN make_timestamp_ns({lo}) AND make_timestamp_ns({hi})) e "
            f"JOIN {source} s ON {' AND '.join(on)}"
        )
        counts = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _ow = {self.write_id}) FROM {MATCH}"
        ).fetchall()[0]
        total, same_write = int(counts[0]), int(counts[1])
        if not total:
            return 0
        matched = f"(SELECT s.* FROM {MATCH} JOIN {source} s USING ({ROW_COLUMN}))"
        examples = self._examples(m, matched, tags, "TRUE", has_line, "existing")
        if self.mode == "error":
            raise CollisionError(_collision_message(total, "with stored points", examples))
        self.collisions.within_input += same_write
        self.collisions.with_existing += total - same_write
        self.collisions.add_examples(examples)
        first, second = ("e", "x") if self.mode == "keep-first" else ("x", "e")
        sets = [f"{c.name} = coalesce({first}.{c.name}, {second}.{c.name})" for c in fields]
        sets.append(f"{WRITE_ID_COLUMN} = {self.write_id}")
        self.con.execute(
            f"UPDATE {table} AS e SET {', '.join(sets)} FROM (SELECT mt._rid, s.* FROM {MATCH} mt "
            f"JOIN {source} s USING ({ROW_COLUMN})) x WHERE e.rowid = x._rid"
        )
        return total

    def _examples(
        self,
        m: Measurement,
        relation: str,
        tags: list[Column],
        where: str,
        has_line: bool,
        source: str,
    ) -> list[dict[str, Any]]:
        room = MAX_EXAMPLES - len(self.collisions.examples)
        if room <= 0 and self.mode != "error":
            return []
        cols = ", ".join(["epoch_ns(time)", *(c.name for c in tags)])
        line = LINE_COLUMN if has_line else "NULL"
        rows = self.con.execute(
            f"SELECT {cols}, {line} FROM {relation} WHERE {where} "
            f"ORDER BY time LIMIT {max(room, 1)}"
        ).fetchall()
        return [
            {
                "measurement": m.name,
                "tags": {c.key: v for c, v in zip(tags, row[1:-1], strict=True) if v is not None},
                "time": row[0],
                "line": row[-1],
                "source": source,
            }
            for row in rows
        ]


def _stage_table(batch: PointBatch, tags: list[Column], fields: list[Column]) -> pa.Table:
    """Arrow chunk renamed to physical column names, with input order and time as ts[ns]."""
    table = batch.table
    arrays = {TIME_COLUMN: table.column(TIME_COLUMN).cast(pa.timestamp("ns"))}
    for key, col in zip(batch.tags, tags, strict=True):
        arrays[col.name] = table.column(key)
    for key, col in zip(batch.fields, fields, strict=True):
        arrays[col.name] = table.column(key)
    arrays[ROW_COLUMN] = pa.chunked_array([pa.array(np.arange(table.num_rows, dtype=np.int64))])
    if LINE_COLUMN in table.column_names:
        arrays[LINE_COLUMN] = table.column(LINE_COLUMN)
    return pa.table(arrays)


def _may_have_duplicates(times: np.ndarray) -> bool:
    """Cheap pre-check: without two equal timestamps there can be no duplicate key."""
    if len(times) < 2:
        return False
    diffs = np.diff(times)
    if (diffs > 0).all():
        return False
    if (diffs >= 0).all():
        return True  # sorted with equal neighbours
    ordered = np.sort(times)
    return bool((ordered[1:] == ordered[:-1]).any())


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
