"""Turning a block of raw CSV strings into PointBatches and rejects, in one vectorized pass.

Both CSV readers (mapped and annotated) describe what each output column is — a
tag, a typed field, the time, the measurement — as a `RowPlan` of Polars
expressions over the raw columns. `apply_plan` evaluates it on a block, finds the
first failing column of every bad row (in plan order: measurement, time, fields),
turns those rows into rejects with line, column, value and reason, and splits the
good rows into one PointBatch per measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.ingest.csvblocks import LINE_COLUMN
from fluxlab.ingest.rejects import empty_rejects, rejects_from_frame
from fluxlab.ingest.transforms import cast_to, conversion_failed, raw_line, type_error_reason
from fluxlab.model.points import TIME_COLUMN, FieldType, PointBatch

TimeParser = Callable[[pl.Series], pl.Series]
"""Raw time strings → Int64 ns UTC (null where unparsable)."""


@dataclass
class FieldPlan:
    key: str
    source: str  # input column named in error messages
    raw: pl.Expr  # cleaned string expression (reported as the value when conversion fails)
    ftype: FieldType
    prepare: Callable[[pl.Expr], pl.Expr] | None = None  # raw → castable text (formats)


@dataclass
class TagPlan:
    key: str
    source: str
    raw: pl.Expr
    late: bool = False  # `raw` reads typed field values (`typed_field`) or extra columns


def typed_field(index: int) -> pl.Expr:
    """The typed value of `plan.fields[index]`, for late tags: derived tags (S2 cells) read
    it instead of re-running the field's extraction and cast."""
    return pl.col(f"v{index}")


@dataclass
class RowPlan:
    """How to build points from raw columns; see the module docstring."""

    tags: list[TagPlan]
    fields: list[FieldPlan]
    time_raw: pl.Expr | None
    time_source: str
    time_parser: TimeParser | None
    time_hint: str
    measurement: str | None = None
    measurement_raw: pl.Expr | None = None
    measurement_source: str = "measurement"
    field_name_raw: pl.Expr | None = None  # Flux-shaped CSV: the field key comes from _field
    field_name_source: str = "_field"
    default_time_ns: int = 0
    raw_columns: Sequence[str] = field(default_factory=tuple)
    used_columns: Sequence[str] = field(default_factory=tuple)  # raw columns the exprs read
    delimiter: str = ","
    trim: bool = False  # strip surrounding whitespace from every used raw column first
    # Extra named expressions over the raw block kept in the work frame, and extra
    # checks over it (after the built-in ones); used by mapping `geo` tagging.
    extra_columns: list[pl.Expr] = field(default_factory=list)
    extra_checks: list[tuple[pl.Expr, str, pl.Expr, pl.Expr]] = field(default_factory=list)


@dataclass
class PlanResult:
    batches: list[PointBatch]
    rejects: pa.Table
    skipped_lines: list[int]


def apply_plan(
    batch: pa.RecordBatch | pa.Table, lines: np.ndarray, plan: RowPlan, source: str
) -> PlanResult:
    """Evaluate `plan` on a raw block (all-string Arrow columns + physical line numbers)."""
    batch, lines, skipped = _drop_blank_rows(batch, lines)
    if batch.num_rows == 0:
        return PlanResult([], empty_rejects(), skipped)
    frame = pl.from_arrow(pa.table({c: batch.column(c) for c in plan.used_columns}))
    assert isinstance(frame, pl.DataFrame)
    if plan.trim:
        frame = _trimmed(frame, batch, plan.used_columns)
    frame = frame.with_columns(pl.Series(LINE_COLUMN, lines, pl.Int64))
    # Each stage materializes its columns so later stages read them instead of
    # re-evaluating the expressions (Polars does not share sub-expressions here, and a
    # regex extraction referenced by a cast, a check and a derived tag ran 4-6 times).
    work = frame.select(
        pl.col(LINE_COLUMN),
        *[t.raw.alias(f"t{i}") for i, t in enumerate(plan.tags) if not t.late],
        *[f.raw.alias(f"r{i}") for i, f in enumerate(plan.fields)],
        *([plan.time_raw.alias("time_raw")] if plan.time_raw is not None else []),
        *([plan.measurement_raw.alias("m")] if plan.measurement_raw is not None else []),
        *([plan.field_name_raw.alias("fname")] if plan.field_name_raw is not None else []),
        *plan.extra_columns,
    )
    prepared = [(i, f) for i, f in enumerate(plan.fields) if f.prepare is not None]
    work = work.with_columns(
        _time_column(work, plan),
        *[f.prepare(pl.col(f"r{i}")).alias(f"p{i}") for i, f in prepared],  # type: ignore[misc]
    )
    work = work.with_columns(
        cast_to(pl.col(f"p{i}" if f.prepare else f"r{i}"), f.ftype).alias(f"v{i}")
        for i, f in enumerate(plan.fields)
    )
    late = [(i, t) for i, t in enumerate(plan.tags) if t.late]
    if late:
        work = work.with_columns(t.raw.alias(f"t{i}") for i, t in late)
    checks = _checks(plan)
    bad = work.select(_any_failed(checks)).to_series()
    rejects = empty_rejects()
    if bad.any():
        failed = work.filter(bad).with_columns(
            _first_match(checks, lambda c: pl.lit(c[1])).alias("_err_col"),
            _first_match(checks, lambda c: c[2]).alias("_err_val"),
            _first_match(checks, lambda c: c[3]).alias("_err_reason"),
        )
        bad_raw = batch.filter(pa.array(bad.to_numpy()))
        rejects = _rejects(bad_raw, failed, plan, source)
        work = work.filter(~bad)
    return PlanResult(_batches(work, plan), rejects, skipped)


def _drop_blank_rows(
    batch: pa.RecordBatch | pa.Table, lines: np.ndarray
) -> tuple[pa.RecordBatch | pa.Table, np.ndarray, list[int]]:
    """Rows whose every value is empty are blank lines: counted as skipped, not rejected."""
    if batch.num_columns == 0 or batch.num_rows == 0:
        return batch, lines, []
    blank = pc.equal(pc.fill_null(batch.column(0), ""), "")
    if not pc.any(blank).as_py():
        return batch, lines, []
    for column in batch.columns[1:]:
        blank = pc.and_(blank, pc.equal(pc.fill_null(column, ""), ""))
    mask = blank.to_numpy(zero_copy_only=False)
    if not mask.any():
        return batch, lines, []
    keep = ~mask
    return batch.filter(pa.array(keep)), lines[keep], lines[mask].tolist()


def _trimmed(frame: pl.DataFrame, batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> pl.DataFrame:
    """`frame` with surrounding whitespace stripped, only in the columns where some value
    may have any: a look at each value's first and last byte is far cheaper than a strip
    (which copies every string), and values are rarely padded."""
    padded = [c for c in columns if _may_be_padded(batch.column(c))]
    if not padded:
        return frame
    return frame.with_columns(pl.col(c).str.strip_chars() for c in padded)


def _may_be_padded(column: pa.Array | pa.ChunkedArray) -> bool:
    """False only if no value starts or ends with a byte that can begin or end whitespace:
    ASCII space and controls (<= 32) or any non-ASCII byte (Unicode spaces)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if not pa.types.is_string(chunk.type):
            return True  # not the parser's plain strings: let Polars decide
        data = chunk.buffers()[2]
        if len(chunk) == 0 or data is None or data.size == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        chars = np.frombuffer(data, np.uint8)
        # empty values make these read a neighbour's byte: a harmless extra "maybe"
        ends = np.concatenate([np.take(chars, offsets[:-1], mode="clip"),
                               np.take(chars, offsets[1:] - 1, mode="clip")])
        if ends.min() <= 32 or ends.max() >= 128:
            return True
    return False


def _time_column(work: pl.DataFrame, plan: RowPlan) -> pl.Series:
    if plan.time_raw is None or plan.time_parser is None:
        return pl.Series(TIME_COLUMN, [plan.default_time_ns] * work.height, pl.Int64)
    return plan.time_parser(work.get_column("time_raw")).cast(pl.Int64).alias(TIME_COLUMN)


Check = tuple[pl.Expr, str, pl.Expr, pl.Expr]
"""(failed?, column name, offending value, reason)."""


def _checks(plan: RowPlan) -> list[Check]:
    checks: list[Check] = []
    null_str = pl.lit(None, pl.String)
    if plan.measurement_raw is not None:
        checks.append(
            (pl.col("m").is_null(), plan.measurement_source, null_str, pl.lit("measurement is empty"))
        )
    if plan.field_name_raw is not None:
        checks.append(
            (pl.col("fname").is_null(), plan.field_name_source, null_str, pl.lit("field name is empty"))
        )
    if plan.time_raw is not None:
        checks.append(
            (pl.col("time_raw").is_null(), plan.time_source, null_str, pl.lit("time is empty"))
        )
        checks.append(
            (
                conversion_failed(pl.col("time_raw"), pl.col(TIME_COLUMN)),
                plan.time_source,
                pl.col("time_raw"),
                pl.lit(f"cannot parse time: {plan.time_hint}"),
            )
        )
    for i, f in enumerate(plan.fields):
        checks.append(
            (
                conversion_failed(pl.col(f"r{i}"), pl.col(f"v{i}")),
                f.source,
                pl.col(f"r{i}"),
                pl.lit(type_error_reason(f.ftype)),
            )
        )
    checks.extend(plan.extra_checks)
    if plan.fields:
        names = ", ".join(f.source for f in plan.fields)
        no_fields = pl.all_horizontal([pl.col(f"v{i}").is_null() for i in range(len(plan.fields))])
        checks.append(
            (
                no_fields,
                names,
                null_str,
                pl.lit("no field values (all empty); a point needs at least one field"),
            )
        )
    return checks


def _any_failed(checks: list[Check]) -> pl.Expr:
    """One boolean pass over every check (the common, all-good case stops here)."""
    if not checks:
        return pl.repeat(False, pl.len())
    return pl.any_horizontal([c[0].fill_null(False) for c in checks])


def _first_match(checks: list[Check], pick: Callable[[Check], pl.Expr]) -> pl.Expr:
    if not checks:
        return pl.lit(None, pl.String)
    expr = pl.when(checks[0][0]).then(pick(checks[0]))
    for check in checks[1:]:
        expr = expr.when(check[0]).then(pick(check))
    return expr.otherwise(pl.lit(None, pl.String)).cast(pl.String)


def _rejects(
    raw_batch: pa.RecordBatch | pa.Table, work: pl.DataFrame, plan: RowPlan, source: str
) -> pa.Table:
    raw = pl.from_arrow(pa.Table.from_batches([raw_batch]) if isinstance(raw_batch, pa.RecordBatch) else raw_batch)
    assert isinstance(raw, pl.DataFrame)
    columns = [c for c in plan.raw_columns if c in raw.columns]
    frame = pl.DataFrame(
        {
            "line": work.get_column(LINE_COLUMN),
            "column": work.get_column("_err_col"),
            "value": work.get_column("_err_val"),
            "reason": work.get_column("_err_reason"),
            "raw": raw.select(raw_line(columns, plan.delimiter)).to_series(),
        }
    )
    return rejects_from_frame(frame, source)


def _batches(work: pl.DataFrame, plan: RowPlan) -> list[PointBatch]:
    if work.height == 0:
        return []
    tag_keys = _unique_keys([t.key for t in plan.tags])
    last_tag = {t.key: i for i, t in enumerate(plan.tags)}  # a repeated tag key: last column wins
    field_keys = [f.key for f in plan.fields]
    keys = [k for k, on in (("m", plan.measurement_raw is not None),
                            ("fname", plan.field_name_raw is not None)) if on]
    out = work.select(
        pl.col(TIME_COLUMN),
        *[pl.col(f"t{last_tag[k]}").alias(k) for k in tag_keys],
        *[pl.col(f"v{i}").alias(f.key) for i, f in enumerate(plan.fields)],
        pl.col(LINE_COLUMN),
        *[pl.col(k) for k in keys],
    )
    if not keys:
        return [_point_batch(plan.measurement or "", out, tag_keys, field_keys)]
    batches = []
    for values, part in out.partition_by(keys, as_dict=True, maintain_order=True).items():
        found = dict(zip(keys, values, strict=True))
        name = str(found.get("m", plan.measurement or ""))
        part = part.drop(keys)
        fields = field_keys
        if "fname" in found:
            part = part.rename({field_keys[0]: str(found["fname"])})
            fields = [str(found["fname"])]
        batches.append(_point_batch(name, part, tag_keys, fields))
    return batches


def _unique_keys(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def _point_batch(
    measurement: str, frame: pl.DataFrame, tags: list[str], fields: list[str]
) -> PointBatch:
    """Drop fields that are null in every row of the batch, then hand Arrow to the store."""
    present = [f for f in fields if frame.get_column(f).null_count() < frame.height]
    frame = frame.select(TIME_COLUMN, *tags, *present, LINE_COLUMN)
    return PointBatch(measurement, to_arrow_table(frame), tuple(tags), tuple(present))


def to_arrow_table(frame: pl.DataFrame) -> pa.Table:
    """Polars → Arrow with plain `string` columns (what every consumer expects)."""
    table = frame.to_arrow()
    schema = pa.schema(
        [
            pa.field(f.name, pa.string())
            if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
            else f
            for f in table.schema
        ]
    )
    return table.cast(schema)
