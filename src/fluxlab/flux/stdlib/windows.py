"""window, aggregateWindow, truncateTimeColumn, timeShift, timeWeightedAvg, hourSelection.

Windows are computed on the local clock of the `location` (see `timezone`): window
k starts at `epoch + k*every + offset` (calendar months for `mo`/`y` durations)
and lasts `period`. A row belongs to every window whose [start, stop) holds its
time, so one row can land in several windows when period > every. Bounds are then
converted back to UTC instants and clipped to the table's `_start`/`_stop` (the
range bounds), as Flux does. All of it is column arithmetic on whole frames.

aggregateWindow with a built-in aggregate or selector (count, mean, max, median, ...)
skips materializing one table per window: it reduces all windows in one group_by.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, UnsupportedError
from fluxlab.flux.registry import PACKAGES, NativeFunction, builtin, register_value
from fluxlab.flux.stdlib.aggregates import (
    ROW,
    TID,
    WINDOWABLE_AGGREGATES,
    WINDOWABLE_QUANTILES,
    WINDOWABLE_SELECTORS,
    check_selector,
    concat_tables,
    contiguous_parts,
    exact_tdigest_groups,
    null_row_table,
    tagged_frames,
    time_ns,
)
from fluxlab.flux.stdlib.timezone import add_duration_ns, from_local, to_local
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Duration, Time

INFINITE_NS = 2**62
_MAX_WINDOWS = 5_000_000
_WS, _WE = "__flux_wstart", "__flux_wstop"

# `inf`: the infinite duration of `window(every: inf)` (unless the runtime defines it).
if "inf" not in PACKAGES.get("universe", {}):
    register_value("universe", "inf", Duration(0, 2**63 - 1))


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """every/period/offset/location of a window() call."""

    every: Duration
    period: Duration
    offset: Duration
    location: Any

    def __post_init__(self) -> None:
        if self.every.negative or (self.every.months == 0 and self.every.nanoseconds == 0):
            raise FluxRuntimeError("window: every must be a positive duration")
        if self.every.months and self.every.nanoseconds:
            raise UnsupportedError("window: every mixing months and smaller units")

    @property
    def fixed(self) -> bool:
        return self.every.months == 0

    def max_overlap(self) -> int:
        """How many windows can hold the same instant (ceil(period / every))."""
        if self.fixed and self.period.months == 0:
            p, e = self.period.nanoseconds, self.every.nanoseconds
            return max(1, -(-p // e))
        if not self.fixed and self.period.nanoseconds == 0:
            return max(1, -(-self.period.months // self.every.months))
        return 2

    def start_of(self, k: pl.Series) -> pl.Series:
        """Local clock start of window number k."""
        k = k.cast(pl.Int64)
        if self.fixed:
            return add_duration_ns(k * self.every.nanoseconds, self.offset)
        months = k * self.every.months
        base = (
            pl.DataFrame({"m": months})
            .select(
                pl.datetime(
                    1970 + pl.col("m").floordiv(12), pl.col("m").mod(12) + 1, 1, time_unit="ns"
                )
            )
            .to_series()
            .cast(pl.Int64)
        )
        return add_duration_ns(base, self.offset)

    def index_of(self, local: pl.Series) -> pl.Series:
        """Number of the latest window starting at or before each local clock value."""
        local = local.cast(pl.Int64)
        if self.fixed and self.offset.months == 0:
            off = self.offset.total_ns()
            return (local - off) // self.every.nanoseconds
        shifted = add_duration_ns(local, self.offset, -1)
        if self.fixed:
            k = shifted // self.every.nanoseconds
        else:
            dt = shifted.cast(pl.Datetime("ns"))
            months = (dt.dt.year().cast(pl.Int64) - 1970) * 12 + dt.dt.month().cast(pl.Int64) - 1
            k = months // self.every.months
        # Calendar clamping can leave k one off: step it until start(k) <= local < start(k+1).
        k = pl.Series(k).cast(pl.Int64)
        k = k - (self.start_of(k) > local).cast(pl.Int64)
        return k + (self.start_of(k + 1) <= local).cast(pl.Int64)


def spec_from_args(
    ctx: Any,
    every: Duration | None,
    period: Duration | None,
    offset: Duration | None,
    location: Any,
) -> WindowSpec:
    if every is None and period is None:
        raise FluxRuntimeError("window: every or period is required")
    if period is not None and period.months == 0 and period.nanoseconds == 0:
        period = None  # Flux's default `period: 0s` means "same as every"
    every = every if every is not None else period
    period = period if period is not None else every
    loc = location if location is not None else getattr(ctx, "location", None)
    return WindowSpec(every, period, offset or Duration(), loc)  # type: ignore[arg-type]


def _is_infinite(d: Duration | None) -> bool:
    return d is not None and d.months == 0 and d.nanoseconds >= INFINITE_NS


# ================================================================== row assignment


def assign_windows(frame: pl.DataFrame, spec: WindowSpec, time_col: str) -> pl.DataFrame:
    """Rows repeated once per window holding them, with _WS/_WE (UTC ns) columns."""
    t = frame.get_column(time_col).cast(pl.Int64)
    local = to_local(t, spec.location)
    k0 = spec.index_of(local)
    parts = []
    for j in range(spec.max_overlap()):
        start = spec.start_of(k0 - j)
        stop = add_duration_ns(start, spec.period)
        mask = (stop > local) & (start <= local)
        part = frame.with_columns(
            pl.Series(_WS, start), pl.Series(_WE, stop), pl.Series("__flux_j", [j] * frame.height)
        ).filter(mask.fill_null(False))
        parts.append(part)
    out = pl.concat(parts, how="vertical")
    return out.with_columns(
        pl.Series(_WS, from_local(out.get_column(_WS), spec.location)),
        pl.Series(_WE, from_local(out.get_column(_WE), spec.location)),
    )


def enumerate_windows(lo_ns: int, hi_ns: int, spec: WindowSpec) -> pl.DataFrame:
    """All windows (UTC _WS/_WE) overlapping [lo_ns, hi_ns)."""
    edges = to_local(pl.Series([lo_ns, hi_ns - 1]), spec.location)
    ks = spec.index_of(edges)
    k_lo, k_hi = int(ks[0]) - spec.max_overlap() + 1, int(ks[1])
    if k_hi - k_lo > _MAX_WINDOWS:
        raise FluxRuntimeError("window: too many windows for the time range (every is too small)")
    k = pl.Series(range(k_lo, k_hi + 1), dtype=pl.Int64)
    start = spec.start_of(k)
    stop = add_duration_ns(start, spec.period)
    df = pl.DataFrame({_WS: from_local(start, spec.location), _WE: from_local(stop, spec.location)})
    return df.filter((pl.col(_WE) > lo_ns) & (pl.col(_WS) < hi_ns))


# ================================================================== window()


def window_stream(
    ctx: Any,
    tables: Stream,
    spec: WindowSpec,
    time_col: str = "_time",
    start_col: str = "_start",
    stop_col: str = "_stop",
    create_empty: bool = False,
) -> Stream:
    """Split every table into one table per window (see module doc)."""
    _remember_range_bounds(ctx, tables, start_col, stop_col)
    out: list[tuple[int, tuple[int, int], Table]] = []
    for b in tagged_frames(tables):
        if time_col not in b.frame.columns:
            raise FluxRuntimeError(f'window: time column "{time_col}" does not exist')
        frame = b.frame.filter(pl.col(time_col).is_not_null())
        if frame.height:
            assigned = assign_windows(frame, spec, time_col)
            out.extend(_window_tables(assigned, b.key, start_col, stop_col))
    if create_empty:
        out.extend(_empty_windows(tables, spec, out, start_col, stop_col))
    out.sort(key=lambda item: (item[0], item[1]))
    return Stream(t for _, _, t in out)


def _remember_range_bounds(ctx: Any, tables: Stream, start_col: str, stop_col: str) -> None:
    """Record the range bounds shared by all tables, for a later window(every: inf).

    Flux's planner gives window(every: inf) the query's range bounds; after windowing
    those are no longer in the tables, so they are kept on the context.
    """
    seen = {_table_bounds(t, start_col, stop_col) for t in tables}
    if len(seen) == 1 and None not in seen and ctx is not None:
        with contextlib.suppress(AttributeError):
            ctx.flux_range_bounds = seen.pop()


def _clip_bounds(df: pl.DataFrame, start_col: str, stop_col: str) -> pl.DataFrame:
    ws, we = pl.col(_WS), pl.col(_WE)
    if start_col in df.columns and isinstance(df.schema[start_col], pl.Datetime):
        ws = pl.max_horizontal(ws, pl.col(start_col).cast(pl.Int64))
    if stop_col in df.columns and isinstance(df.schema[stop_col], pl.Datetime):
        we = pl.min_horizontal(we, pl.col(stop_col).cast(pl.Int64))
    return df.with_columns(ws.alias(_WS), we.alias(_WE))


def _new_key(key0: tuple[str, ...], start_col: str, stop_col: str) -> tuple[str, ...]:
    rest = tuple(k for k in key0 if k not in (start_col, stop_col))
    return (*rest, start_col, stop_col)


def _window_tables(
    assigned: pl.DataFrame, key0: tuple[str, ...], start_col: str, stop_col: str
) -> list[tuple[int, tuple[int, int], Table]]:
    df = _clip_bounds(assigned, start_col, stop_col)
    df = df.with_columns(
        pl.col(_WS).cast(TIME_TYPE).alias(start_col), pl.col(_WE).cast(TIME_TYPE).alias(stop_col)
    ).sort([TID, _WS, _WE], maintain_order=True)
    key = _new_key(key0, start_col, stop_col)
    result = []
    groups = [TID, _WS, _WE, *key]  # key columns are constant within a window's rows
    for ident, body in contiguous_parts(df, groups, [TID, _WS, _WE, "__flux_j"]):
        tid, ws, we, *values = ident
        result.append((int(tid), (int(ws), int(we)), Table(key, tuple(values), body)))
    return result


def _empty_windows(
    tables: Stream,
    spec: WindowSpec,
    done: list[tuple[int, tuple[int, int], Table]],
    start_col: str,
    stop_col: str,
) -> list[tuple[int, tuple[int, int], Table]]:
    """Empty tables for windows of each table's [_start, _stop) bounds that got no rows."""
    seen = {(tid, bounds) for tid, bounds, _ in done}
    extra = []
    for tid, t in enumerate(tables):
        bounds = _table_bounds(t, start_col, stop_col)
        if bounds is None:
            continue
        lo, hi = bounds
        wins = enumerate_windows(lo, hi, spec).with_columns(
            pl.max_horizontal(pl.col(_WS), pl.lit(lo)).alias(_WS),
            pl.min_horizontal(pl.col(_WE), pl.lit(hi)).alias(_WE),
        )
        key = _new_key(t.key, start_col, stop_col)
        schema = t.df.head(0).with_columns(
            pl.lit(None, TIME_TYPE).alias(start_col), pl.lit(None, TIME_TYPE).alias(stop_col)
        )
        keyvals = {k: v for k, v in t.key_dict().items() if k not in (start_col, stop_col)}
        for ws, we in wins.iter_rows():
            if (tid, (ws, we)) in seen:
                continue
            values = tuple({**keyvals, start_col: Time(ws), stop_col: Time(we)}.get(k) for k in key)
            extra.append((tid, (ws, we), Table(key, values, schema)))
    return extra


def _table_bounds(t: Table, start_col: str, stop_col: str) -> tuple[int, int] | None:
    if start_col not in t.df.columns or stop_col not in t.df.columns:
        return None
    if t.height:
        pair = t.df.select(pl.col(start_col, stop_col).first().cast(pl.Int64)).row(0)
        lo, hi = pair
    else:
        kd = t.key_dict()
        lo, hi = time_ns(kd.get(start_col)), time_ns(kd.get(stop_col))
    if lo is None or hi is None:
        return None
    return int(lo), int(hi)


@builtin("universe", pipe="tables")
def window(
    ctx: Any,
    tables: Stream,
    every: Duration | None = None,
    period: Duration | None = None,
    offset: Duration | None = None,
    location: Any = None,
    timeColumn: str = "_time",  # noqa: N803
    startColumn: str = "_start",  # noqa: N803
    stopColumn: str = "_stop",  # noqa: N803
    createEmpty: bool = False,  # noqa: N803
) -> Stream:
    """Group rows into time windows; adds the window bounds to the group key."""
    if _is_infinite(every) or _is_infinite(period):
        bounds = getattr(ctx, "flux_range_bounds", None)
        return _infinite_window(tables, startColumn, stopColumn, bounds)
    spec = spec_from_args(ctx, every, period, offset, location)
    return window_stream(ctx, tables, spec, timeColumn, startColumn, stopColumn, createEmpty)


def _infinite_window(
    tables: Stream, start_col: str, stop_col: str, bounds: tuple[int, int] | None
) -> Stream:
    """window(every: inf): one window per key spanning the query's range bounds."""
    frames = []
    for t in tables:
        df = t.df
        if bounds is not None:
            df = df.with_columns(
                pl.lit(bounds[0]).cast(TIME_TYPE).alias(start_col),
                pl.lit(bounds[1]).cast(TIME_TYPE).alias(stop_col),
            )
        if start_col not in df.columns:
            df = df.with_columns(pl.lit(None, TIME_TYPE).alias(start_col))
        if stop_col not in df.columns:
            df = df.with_columns(pl.lit(None, TIME_TYPE).alias(stop_col))
        frames.append(Table(t.key, t.key_values, df))
    if not frames:
        return Stream()
    key = _new_key(frames[0].key, start_col, stop_col)
    return Stream.from_frame(concat_tables(frames), key)


# ================================================================== aggregateWindow


@builtin("universe", pipe="tables")
def aggregateWindow(  # noqa: N802
    ctx: Any,
    tables: Stream,
    every: Duration,
    fn: Any,
    period: Duration | None = None,
    offset: Duration | None = None,
    location: Any = None,
    column: str = "_value",
    timeSrc: str = "_stop",  # noqa: N803
    timeDst: str = "_time",  # noqa: N803
    createEmpty: bool = True,  # noqa: N803
) -> Stream:
    """window |> fn |> (fill empty windows) |> duplicate(timeSrc, timeDst) |> un-window."""
    spec = spec_from_args(ctx, every, period, offset, location)
    impl = fn.impl if isinstance(fn, NativeFunction) else None
    if impl in WINDOWABLE_AGGREGATES or impl in WINDOWABLE_SELECTORS:
        return _aggregate_window_fast(
            ctx, tables, spec, impl, column, timeSrc, timeDst, createEmpty
        )
    bounds = _original_bounds(tables)
    windowed = window_stream(ctx, tables, spec, create_empty=createEmpty)
    reduced = ctx.call(fn, tables=windowed, column=column)
    if not isinstance(reduced, Stream):
        raise FluxRuntimeError("aggregateWindow: fn must return a stream of tables")
    filled = [null_row_table(t) if createEmpty else t for t in reduced]
    frames = [t for t in filled if t.height]
    if any(timeSrc not in t.df.columns for t in frames):
        raise FluxRuntimeError(f'aggregateWindow: timeSrc column "{timeSrc}" does not exist')
    if not frames:
        return Stream()
    key = frames[0].key
    joined = concat_tables(frames).with_columns(pl.col(timeSrc).alias(timeDst))
    out = _restore_bounds(joined, bounds)
    if bounds is None:
        key = tuple(k for k in key if k not in ("_start", "_stop"))
    return Stream.from_frame(out, key) if key else Stream([Table((), (), out)])


# ------------------------------------------------------------------ fast path


def _aggregate_window_fast(
    ctx: Any,
    tables: Stream,
    spec: WindowSpec,
    impl: Any,
    column: str,
    time_src: str,
    time_dst: str,
    create_empty: bool,
) -> Stream:
    """aggregateWindow for a built-in aggregate/selector: one group_by over all windows.

    Gives the same tables as the general path without building a table per window.
    """
    _remember_range_bounds(ctx, tables, "_start", "_stop")
    if impl in WINDOWABLE_SELECTORS:
        check_selector(tables, column, WINDOWABLE_SELECTORS[impl][1])
    out: list[Table] = []
    for b in tagged_frames(tables):
        frame = (
            b.frame.filter(pl.col("_time").is_not_null()) if "_time" in b.frame.columns else None
        )
        if frame is None:
            raise FluxRuntimeError('aggregateWindow: time column "_time" does not exist')
        has_bounds = _has_bounds(frame)
        rest = [k for k in b.key if k not in ("_start", "_stop")]
        keep = [*rest, "_start", "_stop"] if has_bounds else rest
        assigned = _clip_bounds(assign_windows(frame, spec, "_time"), "_start", "_stop")
        if impl in WINDOWABLE_AGGREGATES:
            make, check = WINDOWABLE_AGGREGATES[impl]
            dtype = check(frame, column, "aggregateWindow")
            expr = make(pl.col(column), dtype).alias(column)
            reduced = assigned.group_by([TID, _WS, _WE]).agg(
                [pl.col(k).first() for k in keep] + [expr]
            )
            if impl in WINDOWABLE_QUANTILES:
                reduced = _exact_quantiles(reduced, assigned, column, WINDOWABLE_QUANTILES[impl])
            empty_value = frame.head(0).select(expr)
        else:
            reduced = _select_per_window(assigned, column, WINDOWABLE_SELECTORS[impl][0])
            empty_value = frame.head(0).select(pl.lit(None, frame.schema[column]).alias(column))
        if create_empty and has_bounds:
            empty = _empty_window_rows(tables, b, spec, reduced, keep)
            empty = empty.with_columns(
                pl.lit(empty_value[column][0], empty_value.schema[column]).alias(column)
            )
            reduced = pl.concat([reduced, empty], how="diagonal_relaxed")
        if time_src not in ("_start", "_stop") and time_src not in reduced.columns:
            raise FluxRuntimeError(f'aggregateWindow: timeSrc column "{time_src}" does not exist')
        src = {"_start": pl.col(_WS), "_stop": pl.col(_WE)}.get(time_src, pl.col(time_src))
        reduced = reduced.with_columns(src.cast(TIME_TYPE).alias(time_dst)).sort([TID, _WS, _WE])
        key = (*rest, "_start", "_stop") if has_bounds else tuple(rest)
        drop = [c for c in (_WS, _WE, "__flux_j", ROW) if c in reduced.columns]
        for _tid, part in contiguous_parts(reduced.drop(drop), [TID], [TID]):
            out.append(Table.from_frame(part, key))
    return Stream(out)


def _exact_quantiles(
    reduced: pl.DataFrame, assigned: pl.DataFrame, column: str, q: float
) -> pl.DataFrame:
    """Run the real t-digest for windows holding enough values for centroids to merge."""
    fixed = exact_tdigest_groups(assigned, [TID, _WS, _WE], column, q, 1000.0)
    if fixed is None:
        return reduced
    joined = reduced.join(fixed.rename({column: "__fix"}), on=[TID, _WS, _WE], how="left")
    return joined.with_columns(pl.coalesce("__fix", column).alias(column)).drop("__fix")


def _has_bounds(frame: pl.DataFrame) -> bool:
    return all(
        c in frame.columns and isinstance(frame.schema[c], pl.Datetime) for c in ("_start", "_stop")
    )


def _select_per_window(assigned: pl.DataFrame, column: str, row_of: Any) -> pl.DataFrame:
    """The selected row of every window (all columns kept, plus TID and window bounds)."""
    indexed = assigned.with_row_index(ROW)
    valid = indexed.filter(pl.col(column).is_not_null())
    if valid.height == 0:
        return indexed.head(0)
    rows = valid.group_by([TID, _WS, _WE]).agg(pl.col(ROW).gather(row_of(pl.col(column))))
    return indexed.filter(pl.col(ROW).is_in(rows.explode(ROW).get_column(ROW).implode()))


def _empty_window_rows(
    tables: Stream, b: Any, spec: WindowSpec, reduced: pl.DataFrame, keep: list[str]
) -> pl.DataFrame:
    """Rows (TID, window bounds, key values, _start/_stop) for windows with no data."""
    frames = []
    for tid in b.tids:
        bounds = _table_bounds(tables.tables[tid], "_start", "_stop")
        if bounds is None:
            continue
        lo, hi = bounds
        wins = enumerate_windows(lo, hi, spec).with_columns(
            pl.max_horizontal(pl.col(_WS), pl.lit(lo)).alias(_WS),
            pl.min_horizontal(pl.col(_WE), pl.lit(hi)).alias(_WE),
            pl.lit(tid, pl.UInt32).alias(TID),
        )
        frames.append(wins)
    if not frames:
        return reduced.head(0)
    wins = pl.concat(frames)
    seen = reduced.select(TID, pl.col(_WS).cast(pl.Int64), pl.col(_WE).cast(pl.Int64))
    missing = wins.join(seen, on=[TID, _WS, _WE], how="anti")
    keys = _key_rows(tables, b.tids, keep)
    return missing.join(keys, on=TID, how="left")


def _key_rows(tables: Stream, tids: list[int], columns: list[str]) -> pl.DataFrame:
    """One row per table: TID and the (constant) values of `columns`."""
    rows = []
    for tid in tids:
        t = null_row_table(tables.tables[tid])
        rows.append(t.df.head(1).select(columns).with_columns(pl.lit(tid, pl.UInt32).alias(TID)))
    return pl.concat(rows, how="vertical_relaxed")


def _original_bounds(tables: Stream) -> pl.DataFrame | None:
    """(key columns..., _start, _stop) of the input tables, to undo the windowing."""
    rows = []
    key_cols: tuple[str, ...] | None = None
    for t in tables:
        if "_start" not in t.df.columns or "_stop" not in t.df.columns:
            return None
        kd = t.key_dict()
        if t.height:
            lo, hi = t.df.get_column("_start")[0], t.df.get_column("_stop")[0]
        else:
            lo, hi = kd.get("_start"), kd.get("_stop")
        other = tuple(k for k in t.key if k not in ("_start", "_stop"))
        key_cols = other if key_cols is None else key_cols
        rows.append((lo, hi))
    if not rows:
        return None
    distinct = set(rows)
    if len(distinct) == 1:
        lo, hi = rows[0]
        return pl.DataFrame({"_start": [lo], "_stop": [hi]}).cast(TIME_TYPE)
    frames = [
        pl.DataFrame(
            [pl.Series(k, [t.key_dict().get(k)], t.df.schema[k]) for k in (key_cols or ())]
            + [pl.Series("_start", [lo], TIME_TYPE), pl.Series("_stop", [hi], TIME_TYPE)]
        )
        for t, (lo, hi) in zip(tables, rows, strict=True)
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def _restore_bounds(frame: pl.DataFrame, bounds: pl.DataFrame | None) -> pl.DataFrame:
    if bounds is None:
        return frame.drop([c for c in ("_start", "_stop") if c in frame.columns])
    if bounds.width == 2:
        return frame.with_columns(
            pl.lit(bounds["_start"][0], TIME_TYPE).alias("_start"),
            pl.lit(bounds["_stop"][0], TIME_TYPE).alias("_stop"),
        )
    on = [c for c in bounds.columns if c not in ("_start", "_stop")]
    order = frame.columns
    joined = frame.drop("_start", "_stop").join(bounds, on=on, how="left", nulls_equal=True)
    return joined.select(order)


# ================================================================== time columns


@builtin("universe", pipe="tables")
def truncateTimeColumn(  # noqa: N802
    ctx: Any,
    tables: Stream,
    unit: Duration,
    timeColumn: str = "_time",  # noqa: N803
) -> Stream:
    """Truncate a time column to `unit` (weeks align to the epoch, a Thursday)."""
    spec = WindowSpec(unit, unit, Duration(), getattr(ctx, "location", None))
    out = []
    for t in tables:
        if timeColumn not in t.df.columns:
            raise FluxRuntimeError(f'truncateTimeColumn: column "{timeColumn}" does not exist')
        col = t.df.get_column(timeColumn)
        out.append(_rekey(t, t.df.with_columns(truncate_series(col, spec).alias(timeColumn))))
    return Stream(out)


def truncate_series(col: pl.Series, spec: WindowSpec) -> pl.Series:
    """Start of the `spec.every` window holding each time (nulls stay null)."""
    ns = col.cast(pl.Int64)
    local = to_local(ns, spec.location)
    start = from_local(spec.start_of(spec.index_of(local)), spec.location)
    return start.cast(TIME_TYPE)


def _rekey(t: Table, df: pl.DataFrame) -> Table:
    """Keep the key; re-read key values when a key column changed."""
    return Table.from_frame(df, t.key) if df.height else Table(t.key, t.key_values, df)


@builtin("universe", pipe="tables")
def timeShift(  # noqa: N802
    ctx: Any, tables: Stream, duration: Duration, columns: list[str] | None = None
) -> Stream:
    """Add `duration` to the time columns (default _start, _stop, _time)."""
    cols = columns if columns is not None else ["_start", "_stop", "_time"]
    out = []
    for t in tables:
        present = [c for c in cols if c in t.df.columns]
        shifted = t.df.with_columns(
            add_duration_ns(t.df.get_column(c).cast(pl.Int64), duration).cast(TIME_TYPE).alias(c)
            for c in present
        )
        if t.height:
            out.append(Table.from_frame(shifted, t.key))
        else:
            out.append(Table(t.key, t.key_values, shifted))
    return Stream(out)


# ================================================================== time-based helpers


@builtin("universe", pipe="tables")
def timeWeightedAvg(ctx: Any, tables: Stream, unit: Duration) -> Stream:  # noqa: N802
    """integral(unit, interpolate: "linear") scaled by unit / (_stop - _start)."""
    from fluxlab.flux.stdlib.aggregates import integral

    unit_ns = unit.total_ns() if isinstance(unit, Duration) and unit.is_fixed() else 0
    if unit_ns <= 0:
        raise FluxRuntimeError("timeWeightedAvg: unit must be a positive fixed duration")
    areas = integral(ctx, tables, unit, interpolate="linear")
    out = []
    for t in areas:
        if "_start" not in t.df.columns or "_stop" not in t.df.columns:
            raise FluxRuntimeError("timeWeightedAvg: tables need _start and _stop (use range)")
        span = pl.col("_stop").cast(pl.Int64) - pl.col("_start").cast(pl.Int64)
        value = pl.col("_value") * float(unit_ns) / span.cast(pl.Float64)
        out.append(t.with_df(t.df.with_columns(value.alias("_value"))))
    return Stream(out)


@builtin("universe", pipe="tables")
def hourSelection(  # noqa: N802
    ctx: Any,
    tables: Stream,
    start: int,
    stop: int,
    timeColumn: str = "_time",  # noqa: N803
    location: Any = None,
) -> Stream:
    """Keep rows whose hour (on the location's clock) is in [start, stop] (wrapping)."""
    for name, hour in (("start", start), ("stop", stop)):
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            raise FluxRuntimeError(f"hourSelection: {name} must be between 0 and 23")
    loc = location if location is not None else getattr(ctx, "location", None)
    out = []
    for t in tables:
        if timeColumn not in t.df.columns:
            raise FluxRuntimeError(f'hourSelection: column "{timeColumn}" does not exist')
        local = to_local(t.df.get_column(timeColumn).cast(pl.Int64), loc)
        hour = (local // (3600 * 10**9)) % 24
        keep = (hour >= start) & (hour <= stop)
        if start > stop:
            keep = (hour >= start) | (hour <= stop)
        out.append(t.with_df(t.df.filter(keep.fill_null(False))))
    return Stream(out)
