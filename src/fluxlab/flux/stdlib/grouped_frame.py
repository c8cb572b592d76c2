"""Pushed-down aggregate results kept as ONE frame until something needs the tables.

A pushed `group |> count/sum/mean` (see from_store) yields one row per output table.
Building a Flux table per row and then running the next steps table by table costs
more than the query itself on small stores, so the result stays one frame (a row per
table, in stream order) while the following steps allow it:

- `filter(fn:)` runs once over the frame (every table has the same columns, so this
  is exactly the per-table filter, empty tables dropped);
- `group()` (one table of everything) becomes a MergedFrame, whose rows are the frame;
- `sort(columns:)` on that merged table, when the columns include every former group
  key (so the rows' order is fully decided by the sort), may start from the frame in
  any order: the store then skips computing the stream order (series ranks).

Anything else reads `.tables`, built from the frame in stream order, and runs as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.stdlib.from_store import DerivedSource, StoreSource
from fluxlab.flux.table import Stream, Table

Loader = Callable[[bool], pl.DataFrame]
"""loader(ordered) -> the frame; rows in stream order when `ordered`, any order else."""


class GroupedFrame(DerivedSource):
    """Aggregated tables (one per row, key `keys`) not split into Table objects yet."""

    def __init__(self, ctx: Context, source: StoreSource, keys: list[str],
                 load: Loader) -> None:  # noqa: D107
        super().__init__(ctx, source.plan)
        self.keys, self._load = keys, load
        self._frames: dict[bool, pl.DataFrame] = {}

    @classmethod
    def of(cls, ctx: Context, source: StoreSource, frame: pl.DataFrame,
           keys: list[str]) -> Stream:
        """A GroupedFrame over an ordered frame, or plain tables when a key column is
        null in some rows (those tables lack that column: several schemas)."""
        if not any(frame.get_column(k).has_nulls() for k in keys):
            return cls(ctx, source, keys, lambda _ordered: frame)
        tables = []
        for part in frame.partition_by(keys, maintain_order=True):
            present = [k for k in keys if part.get_column(k)[0] is not None]
            tables.append(Table.from_frame(part.select([*present, "_value"]), present))
        return Stream(tables)

    def frame(self, ordered: bool = True) -> pl.DataFrame:
        """The rows, loaded once (an ordered frame also serves unordered requests)."""
        if True in self._frames:
            return self._frames[True]
        if ordered not in self._frames:
            self._frames[ordered] = self._load(ordered)
        return self._frames[ordered]

    def _read(self) -> list[Table]:
        return row_tables(self.frame(), self.keys)

    def push_chain(self, ctx: Context, fn_name: str, args: dict[str, Any]) -> Stream | None:
        """`filter(fn:)` and `group()` on the frame; None: run the function on `tables`."""
        if not self.unread:
            return None
        if fn_name == "filter" and set(args) == {"fn"}:
            frame = self.frame()
            kept = frame.filter(ctx.row_function(args["fn"]).filter_mask(frame))
            return GroupedFrame(ctx, self, self.keys, lambda _ordered: kept)
        if fn_name == "group" and set(args) <= {"columns", "mode"}:
            if args.get("columns", []) != [] or args.get("mode", "by") != "by":
                return None
            return MergedFrame(ctx, self)
        return None


class MergedFrame(DerivedSource):
    """`GroupedFrame |> group()`: one table holding every row of the frame."""

    def __init__(self, ctx: Context, grouped: GroupedFrame) -> None:  # noqa: D107
        super().__init__(ctx, grouped.plan)
        self.grouped = grouped

    def _read(self) -> list[Table]:
        frame = self.grouped.frame()
        return [Table((), (), frame)] if frame.height else []

    def push_chain(self, ctx: Context, fn_name: str, args: dict[str, Any]) -> Stream | None:
        """`sort` by columns covering every former key: the input order does not matter."""
        if not self.unread or fn_name != "sort" or set(args) - {"columns", "desc"}:
            return None
        columns = args.get("columns", ["_value"])
        if not isinstance(columns, list) or not set(self.grouped.keys) <= set(columns):
            return None
        from fluxlab.flux.stdlib.core import sort

        frame = self.grouped.frame(ordered=False)
        merged = Stream([Table((), (), frame)] if frame.height else [])
        return sort(ctx, merged, **args)


def row_tables(frame: pl.DataFrame, keys: list[str]) -> list[Table]:
    """One table per row of `frame`, keyed by `keys` (one slice per table, no split)."""
    if not keys:
        return [Table((), (), frame)] if frame.height else []
    values = frame.select(keys).rows()
    key = tuple(keys)
    return [Table(key, v, frame.slice(i, 1)) for i, v in enumerate(values)]
