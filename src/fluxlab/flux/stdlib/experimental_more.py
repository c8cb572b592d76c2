"""Package "experimental": diff, objectKeys, catch and kaufmansAMA.

`experimental.diff` compares two streams table by table (matched on group key). A
table pair without differences produces no output; otherwise every `want` row is
emitted with `_diff` "" (also in `got`) or "-" (only in `want`), followed by the rows
found only in `got` with "+". Rows are compared whole, as a multiset, so a repeated
row must be repeated on both sides to match.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxError, FluxTypeError
from fluxlab.flux.registry import PACKAGES, builtin
from fluxlab.flux.stdlib.shape_common import require_stream
from fluxlab.flux.table import Stream, Table
from fluxlab.flux.values import Unsigned, type_name

_PKG = "experimental"
_DIFF = "_diff"
_OCCURRENCE = "__fluxlab_occurrence"
_POSITION = "__fluxlab_position"

# Flux error codes (the gRPC-style codes Flux errors carry); die() raises "invalid".
_CODE_INVALID = 3


# ---------------------------------------------------------------------------- diff


def _numbered(df: pl.DataFrame) -> pl.DataFrame:
    """Add each row's position and how many equal rows precede it (multiset matching)."""
    if not df.columns:
        return df.with_columns(
            pl.int_range(pl.len()).alias(_POSITION), pl.int_range(pl.len()).alias(_OCCURRENCE)
        )
    return df.with_row_index(_POSITION).with_columns(
        pl.int_range(pl.len()).over(df.columns).alias(_OCCURRENCE)
    )


def _aligned(want: pl.DataFrame, got: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Both frames with the same columns (missing ones null), or None if types clash."""
    schema: dict[str, pl.DataType] = dict(want.schema)
    for name, dtype in got.schema.items():
        if name in schema and schema[name] != dtype:
            if schema[name] == pl.Null:
                schema[name] = dtype
            elif dtype != pl.Null:
                return None
        schema.setdefault(name, dtype)

    def fill(df: pl.DataFrame) -> pl.DataFrame:
        exprs = [
            pl.col(n).cast(d) if n in df.columns else pl.lit(None, dtype=d).alias(n)
            for n, d in schema.items()
        ]
        return df.select(exprs)

    return fill(want), fill(got)


def _marked(df: pl.DataFrame, mark: str) -> pl.DataFrame:
    return df.with_columns(pl.lit(mark, dtype=pl.String).alias(_DIFF))


def _diff_frames(want: pl.DataFrame, got: pl.DataFrame) -> pl.DataFrame | None:
    """The diff rows for one group key, or None when the tables hold the same rows."""
    aligned = _aligned(want, got)
    if aligned is None:
        if want.height == 0 and got.height == 0:
            return None
        parts = [_marked(want, "-"), _marked(got, "+")]
        return pl.concat(parts, how="diagonal_relaxed")
    want_a, got_a = aligned
    columns = want_a.columns
    want_n, got_n = _numbered(want_a), _numbered(got_a)
    on = [*columns, _OCCURRENCE]
    common = want_n.join(got_n.select(on), on=on, how="semi", nulls_equal=True)
    only_got = got_n.join(want_n.select(on), on=on, how="anti", nulls_equal=True)
    if common.height == want_n.height and only_got.height == 0:
        return None
    matched = want_n.get_column(_POSITION).is_in(common.get_column(_POSITION).implode())
    want_marked = want_n.with_columns(
        pl.when(matched).then(pl.lit("")).otherwise(pl.lit("-")).alias(_DIFF)
    )
    got_marked = _marked(only_got.sort(_POSITION), "+")
    out = pl.concat([want_marked, got_marked], how="vertical")
    return out.select([_DIFF, *columns])


@builtin(_PKG, pipe="got")
def diff(ctx: Any, want: Any, got: Any = None) -> Stream:
    """Rows that differ between `want` and the piped `got`, marked "-"/"+" in `_diff`."""
    want_s = require_stream(want, "want", "experimental.diff")
    got_s = require_stream(got, "got", "experimental.diff")
    want_by_key = {(t.key, t.key_values): t for t in want_s}
    got_by_key = {(t.key, t.key_values): t for t in got_s}
    out: list[Table] = []
    for ident in [*want_by_key, *(k for k in got_by_key if k not in want_by_key)]:
        w, g = want_by_key.get(ident), got_by_key.get(ident)
        # a table missing on one side compares like an empty table with the other's schema
        w_df = w.df if w is not None else g.df.clear()  # type: ignore[union-attr]
        g_df = g.df if g is not None else w.df.clear()  # type: ignore[union-attr]
        frame = _diff_frames(w_df, g_df)
        if frame is not None:
            out.append(Table(ident[0], ident[1], frame))
    return Stream(out)


# ------------------------------------------------------------------ values helpers


@builtin(_PKG)
def objectKeys(ctx: Any, o: Any) -> list[str]:  # noqa: N802
    """The record's labels, in the record's order."""
    if not isinstance(o, dict):
        raise FluxTypeError(f"experimental.objectKeys: o must be a record, got {type_name(o)}")
    return list(o.keys())


@builtin(_PKG, name="catch")
def catch_(ctx: Any, fn: Any) -> dict[str, Any]:
    """Call fn(); an error becomes {code, msg} instead of stopping the query."""
    try:
        value = ctx.call(fn)
    except FluxError as err:
        return {"value": None, "code": Unsigned(_CODE_INVALID), "msg": str(err.message)}
    return {"value": value, "code": Unsigned(0), "msg": ""}


@builtin(_PKG, pipe="tables")
def kaufmansAMA(ctx: Any, tables: Any, n: int, column: str = "_value") -> Stream:  # noqa: N802
    """Same as universe kaufmansAMA (the experimental package exposed it first)."""
    universe = PACKAGES["universe"]["kaufmansAMA"]
    return ctx.call(universe, tables=tables, n=n, column=column)
