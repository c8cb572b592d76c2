"""universe.join: the classic Flux join of two named streams on a list of columns.

Semantics kept from Flux's merge join: every left table is joined with every right
table (one Polars inner join per pair of table schemas, not per pair of tables);
tables missing an `on` column, or with a null `on` value in their group key, take no
part; null never equals null; columns present on both sides and not in `on` are
renamed `<column>_<stream name>`; the output group key is the union of both input
keys (renamed the same way, sorted by label); columns are sorted by label; rows are
sorted by the `on` columns (in label order); empty results are dropped. The left
stream is the one whose name sorts first.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape_common import key_sort_key, merge_by_key, require_stream
from fluxlab.flux.table import Stream, Table

_LEFT_ID = "__fluxlab_left"
_RIGHT_ID = "__fluxlab_right"


def _usable(table: Table, on: list[str]) -> bool:
    """A table takes part only if it has every `on` column and no null `on` key value."""
    if any(c not in table.df.columns for c in on):
        return False
    key = table.key_dict()
    return not any(c in key and key[c] is None for c in on)


def _schema_buckets(tables: list[Table]) -> list[list[int]]:
    """Indices of tables grouped by identical column schema (first-seen order)."""
    buckets: dict[tuple, list[int]] = {}
    for i, t in enumerate(tables):
        buckets.setdefault(tuple(t.df.schema.items()), []).append(i)
    return list(buckets.values())


class _PairJoin:
    """Joins one bucket of left tables with one bucket of right tables."""

    def __init__(self, names: tuple[str, str], on: list[str],
                 left: list[Table], right: list[Table]) -> None:
        self.left_name, self.right_name = names
        self.on = on
        self.left = left
        self.right = right
        lcols, rcols = left[0].df.columns, right[0].df.columns
        shared = set(lcols) & set(rcols)
        self.rename_left = {c: f"{c}_{self.left_name}" for c in lcols if c in shared and c not in on}
        self.rename_right = {c: f"{c}_{self.right_name}" for c in rcols if c in shared and c not in on}

    def _stacked(self, tables: list[Table], id_col: str, rename: dict[str, str]) -> pl.DataFrame:
        frames = [
            t.df.with_columns(pl.lit(i, dtype=pl.Int64).alias(id_col)) for i, t in enumerate(tables)
        ]
        return pl.concat(frames, how="vertical").rename(rename)

    def tables(self) -> list[Table]:
        left = self._stacked(self.left, _LEFT_ID, self.rename_left)
        right = self._stacked(self.right, _RIGHT_ID, self.rename_right)
        try:
            joined = left.join(right, on=self.on, how="inner", maintain_order="left_right")
        except (pl.exceptions.SchemaError, pl.exceptions.ComputeError,
                pl.exceptions.InvalidOperationError):
            return []  # `on` columns of different types never compare equal
        joined = joined.sort(sorted(self.on), maintain_order=True, nulls_last=True)
        columns = sorted(c for c in joined.columns if c not in (_LEFT_ID, _RIGHT_ID))
        out = []
        for part in joined.partition_by([_LEFT_ID, _RIGHT_ID], maintain_order=True):
            lt = self.left[part.get_column(_LEFT_ID)[0]]
            rt = self.right[part.get_column(_RIGHT_ID)[0]]
            out.append(self._output_table(lt, rt, part.select(columns)))
        return out

    def _output_table(self, lt: Table, rt: Table, df: pl.DataFrame) -> Table:
        key: dict[str, Any] = {}
        for c, v in zip(lt.key, lt.key_values, strict=True):
            key.setdefault(self.rename_left.get(c, c), v)
        for c, v in zip(rt.key, rt.key_values, strict=True):
            key.setdefault(self.rename_right.get(c, c), v)
        names = tuple(sorted(key))
        return Table(names, tuple(key[n] for n in names), df)


def _join_streams(names: tuple[str, str], left: Stream, right: Stream, on: list[str]) -> Stream:
    lts = [t for t in left if _usable(t, on) and t.height]
    rts = [t for t in right if _usable(t, on) and t.height]
    out: list[Table] = []
    for lb in _schema_buckets(lts):
        for rb in _schema_buckets(rts):
            pair = _PairJoin(names, on, [lts[i] for i in lb], [rts[i] for i in rb])
            out.extend(pair.tables())
    # Flux emits join results in group-key order; it matters to a later group().
    return Stream(sorted(merge_by_key(out, "join"), key=key_sort_key))


def _shared_columns(left: Stream, right: Stream) -> list[str]:
    """Default `on`: the columns both streams' first tables have."""
    if not left.tables or not right.tables:
        return []
    rcols = set(right.tables[0].df.columns)
    return [c for c in left.tables[0].df.columns if c in rcols]


@builtin("universe", name="join")
def join(ctx, tables: dict[str, Any], on: list[str] | None = None, method: str = "inner") -> Stream:
    """Join two named streams on the values of the `on` columns (inner join only)."""
    if not isinstance(tables, dict):
        raise FluxTypeError("join: tables must be a record of two streams, e.g. {a: a, b: b}")
    if len(tables) != 2:
        raise FluxRuntimeError(f"join: tables must name exactly two streams, got {len(tables)}")
    if method != "inner":
        raise FluxRuntimeError(f"join: {method} is not a valid join type (only inner is supported)")
    names = tuple(sorted(tables))
    left = require_stream(tables[names[0]], names[0], "join")
    right = require_stream(tables[names[1]], names[1], "join")
    if on is None:
        on = _shared_columns(left, right)
    if not on:
        raise FluxRuntimeError("join: at least one column in 'on' column list is required")
    return _join_streams((names[0], names[1]), left, right, list(on))
