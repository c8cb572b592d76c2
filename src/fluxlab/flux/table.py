"""Flux tables and streams of tables, held as Polars DataFrames.

A Flux *table* is a set of rows that share the values of its *group key* columns; a
*stream* is a sequence of tables with distinct group keys. Every transformation maps
streams to streams. Columns use these Polars types, one per Flux column type:

    string -> pl.String        long -> pl.Int64          unsignedLong -> pl.UInt64
    double -> pl.Float64       boolean -> pl.Boolean
    dateTime:RFC3339 -> pl.Datetime("ns", "UTC")          duration -> pl.Duration("ns")

A table keeps its group key values explicitly (`key_values`) so an empty table still
knows its key. Functions that can work on many tables at once should use
`Stream.concat_frames` / `Stream.from_frame` (one vectorized pass, split by key)
instead of looping over tables in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

TIME_TYPE = pl.Datetime("ns", "UTC")
DURATION_TYPE = pl.Duration("ns")

FLUX_TYPE_NAMES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "long": pl.Int64(),
    "unsignedLong": pl.UInt64(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
    "dateTime:RFC3339": TIME_TYPE,
    "dateTime:RFC3339Nano": TIME_TYPE,
    "duration": DURATION_TYPE,
}


def flux_type_name(dtype: pl.DataType) -> str:
    """The annotated-CSV `#datatype` name of a Polars column type."""
    if dtype == pl.String:
        return "string"
    if dtype == pl.Int64:
        return "long"
    if dtype == pl.UInt64:
        return "unsignedLong"
    if dtype == pl.Float64:
        return "double"
    if dtype == pl.Boolean:
        return "boolean"
    if isinstance(dtype, pl.Datetime):
        return "dateTime:RFC3339"
    if isinstance(dtype, pl.Duration):
        return "duration"
    if dtype == pl.Null:
        return "string"
    raise TypeError(f"column type {dtype} has no Flux equivalent")


_SHORT_NAMES = {
    "long": "int",
    "unsignedLong": "uint",
    "double": "float",
    "boolean": "bool",
    "dateTime:RFC3339": "time",
}


def flux_kind(dtype: pl.DataType) -> str:
    """Flux's short type name of a column type (int, uint, float, string, bool, time,
    duration; null for an all-null column), as used in messages and by the compiler."""
    if dtype == pl.Null:
        return "null"
    name = flux_type_name(dtype)
    return _SHORT_NAMES.get(name, name)


@dataclass(slots=True)
class Table:
    """One Flux table: ordered group-key column names, their values, and the rows."""

    key: tuple[str, ...]
    key_values: tuple[Any, ...]
    df: pl.DataFrame

    @classmethod
    def from_frame(cls, df: pl.DataFrame, key: Sequence[str]) -> Table:
        """A table whose key values are read from the first row (nulls if empty)."""
        key = tuple(key)
        if df.height:
            values = tuple(df.get_column(c)[0] if c in df.columns else None for c in key)
        else:
            values = tuple(None for _ in key)
        return cls(key, values, df)

    @property
    def columns(self) -> list[str]:
        return self.df.columns

    @property
    def height(self) -> int:
        return self.df.height

    def key_dict(self) -> dict[str, Any]:
        return dict(zip(self.key, self.key_values, strict=True))

    def with_df(self, df: pl.DataFrame) -> Table:
        """Same group key, new rows (the caller keeps key columns constant)."""
        return Table(self.key, self.key_values, df)


class Stream:
    """An ordered collection of tables with distinct group keys."""

    __slots__ = ("tables",)

    def __init__(self, tables: Iterable[Table] = ()) -> None:
        self.tables: list[Table] = list(tables)

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def __repr__(self) -> str:
        return f"Stream({len(self.tables)} tables)"

    @classmethod
    def from_frame(cls, df: pl.DataFrame, key: Sequence[str]) -> Stream:
        """Split one frame into tables by the values of `key` (in first-seen order)."""
        key = tuple(key)
        if not key:
            return cls([Table((), (), df)])
        if df.height == 0:
            return cls()
        missing = [c for c in key if c not in df.columns]
        if missing:
            raise KeyError(f"group key columns not in frame: {missing}")
        parts = df.partition_by(list(key), maintain_order=True, include_key=True)
        return cls(Table.from_frame(p, key) for p in parts)

    def concat_frames(self) -> list[tuple[tuple[str, ...], pl.DataFrame]]:
        """Tables concatenated where they share key columns and schema: [(key, frame)].

        Lets an operation run once per schema instead of once per table; split the
        result again with `Stream.from_frame(frame, key)`.
        """
        buckets: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[pl.DataFrame]] = {}
        for t in self.tables:
            sig = (t.key, tuple((n, str(d)) for n, d in t.df.schema.items()))
            buckets.setdefault(sig, []).append(t.df)
        return [(sig[0], pl.concat(frames, how="vertical")) for sig, frames in buckets.items()]

    def keep_rows(self, mask_of: Callable[[pl.DataFrame], Any]) -> Stream:
        """The rows for which `mask_of(frame)` is true, tables left empty dropped (as
        `filter` does); table order and group keys are kept.

        The mask is computed once over all tables of one schema concatenated, so a
        stream of many small tables (one per series) costs one vectorized pass, not one
        Polars call per table.
        """
        by_schema: dict[tuple[tuple[str, ...], tuple[pl.DataType, ...]], list[int]] = {}
        for i, t in enumerate(self.tables):
            by_schema.setdefault((tuple(t.df.columns), tuple(t.df.dtypes)), []).append(i)
        kept: dict[int, Table] = {}
        for indices in by_schema.values():
            frames = [self.tables[i].df for i in indices]
            owner = np.repeat(np.asarray(indices), [f.height for f in frames])
            frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
            keep = np.asarray(mask_of(frame), dtype=bool)
            rows, owner = frame.filter(pl.Series(keep)), owner[keep]
            if owner.size == 0:
                continue
            starts = np.flatnonzero(np.diff(owner, prepend=-1))
            ends = np.append(starts[1:], owner.size)
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                index = int(owner[start])
                kept[index] = self.tables[index].with_df(rows.slice(start, end - start))
        return Stream(kept[i] for i in sorted(kept))

