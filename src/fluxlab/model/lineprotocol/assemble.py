"""Assembly of decoded frames into `PointBatch`es: merging each measurement's frames from
both paths in line order, rejecting lines whose field types conflict with an earlier line
(InfluxDB's rule) with a precise error, and giving the result the batch contract's Arrow
types. It is the one step that sees all lines of a measurement at once, so it is separate
from the parsers."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from fluxlab.model.lineprotocol.exact import parse_line
from fluxlab.model.lineprotocol.frames import _TAG, _TYPES, _Context, _value_col
from fluxlab.model.lineprotocol.syntax import LINE_COLUMN
from fluxlab.model.points import TIME_COLUMN, PointBatch


def _build_batch(measurement: str, frames: list[pl.DataFrame], ctx: _Context) -> PointBatch | None:
    """Merge a measurement's frames, reject type-conflicting lines, build the batch."""
    merged = pl.concat(frames, how="diagonal_relaxed")
    if not merged["_line"].is_sorted():
        merged = merged.sort("_line")
    merged, winners = _reject_conflicts(merged, ctx)
    if merged.height == 0:
        return None
    names = {kid: key for key, kid in ctx.key_ids.items()}
    tags = sorted(names[k] for k, code in winners.items() if code == _TAG)
    fields = sorted(names[k] for k, code in winners.items() if code != _TAG)
    ids = {names[kid]: kid for kid in winners}
    columns = [pl.col(TIME_COLUMN)]
    columns += [pl.col(_value_col(ids[k], winners[ids[k]])) for k in [*tags, *fields]]
    columns.append(pl.col("_line"))
    # Rename on the Arrow side: keys may hold characters (NUL) Polars' export rejects.
    table = merged.select(columns).to_arrow().rename_columns(
        [TIME_COLUMN, *tags, *fields, LINE_COLUMN]
    )
    return PointBatch(measurement, _standard_types(table), tuple(tags), tuple(fields))


def _standard_types(table: pa.Table) -> pa.Table:
    """Polars exports large/view strings; the batch contract uses plain Arrow types."""
    fields = []
    for f in table.schema:
        dtype = f.type
        if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
            dtype = pa.string()
        fields.append(pa.field(f.name, dtype, nullable=f.name not in (TIME_COLUMN, LINE_COLUMN)))
    return table.cast(pa.schema(fields))


def _reject_conflicts(frame: pl.DataFrame, ctx: _Context) -> tuple[pl.DataFrame, dict[int, int]]:
    """Apply InfluxDB's rule: a key's type is set by its first accepted line.

    Each round finds, for every key, the earliest surviving line using it, and the
    earliest line B that disagrees with any of those. Lines disagreeing with a
    reference line before B are certainly rejected (everything before B is
    accepted), so they go; the rest are re-examined. Usually one round.
    """
    codes = [c for c in frame.columns if c.startswith("c")]
    while True:
        winners, refs = _first_codes(frame, codes)
        flags = frame.select(
            [(pl.col(c).is_not_null() & (pl.col(c) != w)).alias(c) for c, w in winners.items()]
        )
        bad = [c for c in flags.columns if flags[c].any()]
        if not bad:
            return frame, {int(c[1:]): w for c, w in winners.items()}
        cutoff = min(frame["_line"].filter(flags[c]).min() for c in bad)
        certain = [c for c in bad if refs[c] < cutoff]
        mask = flags.select(pl.any_horizontal(certain)).to_series()
        _report_conflicts(frame.filter(mask), certain, winners, refs, ctx)
        frame = frame.filter(~mask)


def _first_codes(frame: pl.DataFrame, codes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Per key column: the type code and line number of its earliest occurrence."""
    if frame.height == 0 or not codes:
        return {}, {}
    firsts = frame.select([pl.col(c).drop_nulls().first() for c in codes]).row(0)
    lines = frame.select(
        [pl.col("_line").filter(pl.col(c).is_not_null()).first().alias(c) for c in codes]
    ).row(0)
    winners = {c: int(v) for c, v in zip(codes, firsts, strict=True) if v is not None}
    refs = {c: int(v) for c, v in zip(codes, lines, strict=True) if v is not None}
    return winners, refs


def _report_conflicts(
    rejected: pl.DataFrame,
    certain: list[str],
    winners: dict[str, int],
    refs: dict[str, int],
    ctx: _Context,
) -> None:
    """One error per rejected line, naming the first conflicting key in the line."""
    names = {kid: key for key, kid in ctx.key_ids.items()}
    for row in rejected.select(["_line", *certain]).iter_rows(named=True):
        line_no = row["_line"]
        text = _line_text(line_no, ctx)
        parsed = parse_line(text, ctx.precision)
        conflicts = [
            c for c in certain if row[c] is not None and row[c] != winners[c]
        ]
        conflicts.sort(key=lambda c: parsed.key_columns.get(names[int(c[1:])], 0))
        c = conflicts[0]
        key = names[int(c[1:])]
        column = parsed.value_columns.get(key, parsed.key_columns.get(key, 0))
        message = _conflict_message(key, winners[c], refs[c], row[c])
        ctx.error(line_no, column, text, message)


def _conflict_message(key: str, first: int, ref_line: int, here: int) -> str:
    if first != _TAG and here != _TAG:
        return (
            f"field type conflict: field {key} is {_TYPES[first].value} in line {ref_line}, "
            f"{_TYPES[here].value} here"
        )
    if first == _TAG:
        return f"key {key} is a tag in line {ref_line}, a field here: a key cannot be both"
    return f"key {key} is a field in line {ref_line}, a tag here: a key cannot be both"


def _line_text(line_no: int, ctx: _Context) -> str:
    return ctx.text(line_no - ctx.first_line)
