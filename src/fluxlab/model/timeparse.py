"""Vectorized parsing of time columns into int64 nanoseconds since the epoch (UTC).

Every reader (mapped CSV, annotated CSV) and the Flux `time()`/`date` helpers meet
the same messy inputs: strftime-style local times, RFC 3339 with or without an
offset, epoch numbers in some unit, Go reference layouts from InfluxDB's
`dateTime:<layout>` annotation. Parsing is done on whole columns with Polars; a
value that cannot be parsed becomes null so the caller can reject that row with
its line number instead of failing the whole file.

Rules worth knowing (they are deliberate):

* Hour 24 — a time of `24:00` / `2400` (minute and second zero) means midnight at
  the *end* of that day, i.e. 00:00 of the next day. Police and transit exports use
  it. Any strftime format with `%H` accepts it; `24:30` stays an error.
* Naive local times are converted to UTC with an IANA zone, DST-correct:
  - an *ambiguous* local time (the repeated hour when clocks go back) takes the
    **earlier** instant (the first occurrence, still on summer time);
  - a *nonexistent* local time (skipped when clocks go forward) is read with the
    offset in force just **before** the gap, which moves it forward by the gap
    (02:30 on a spring-forward day in New York becomes 03:30 EDT = 07:30 UTC).
  These match Go's `time.Date` and Python's `zoneinfo` with fold=0, so no row is
  lost and results agree with InfluxDB's own CSV tools.
* Formats with an explicit offset (`%z`, RFC 3339 `Z`/`+01:00`) ignore the zone.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

NS_PER_UNIT: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
"""Nanoseconds per epoch unit (`epoch_s`, `epoch_ms`, `epoch_us`, `epoch_ns`)."""

NAMED_FORMATS = ("rfc3339", "date", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")

_GAP_PROBE_NS = 6 * 3600 * 1_000_000_000
"""How far before a nonexistent local time we look up the offset in force (gaps are < 6 h)."""


class TimeFormatError(ValueError):
    """A time format or time zone that cannot be used at all (not a bad value)."""


def check_timezone(name: str | None) -> str | None:
    """Return `name` if it is a usable zone (IANA name or ±hh:mm / ±hhmm offset), else raise."""
    if name is None or name.upper() == "UTC" or _fixed_offset_ns(name) is not None:
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeFormatError(
            f"unknown time zone {name!r}: use an IANA name such as 'America/New_York' "
            "or 'Europe/Paris', 'UTC', or a fixed offset like '-0500'"
        ) from exc
    return name


def check_format(fmt: str) -> str:
    """Validate a format name or strftime pattern early, before any data is read."""
    if fmt in NAMED_FORMATS:
        return fmt
    if "%" not in fmt:
        raise TimeFormatError(
            f"unknown time format {fmt!r}: use one of {', '.join(NAMED_FORMATS)} "
            "or a strftime pattern such as '%m/%d/%Y %H%M'"
        )
    return fmt


def parse_times(
    values: pa.Array | pa.ChunkedArray | pl.Series,
    fmt: str,
    *,
    timezone: str | None = None,
) -> pl.Series:
    """Parse a string column to Int64 ns UTC; unparsable or null values give null.

    `fmt` is one of NAMED_FORMATS or a strftime pattern (Polars/chrono syntax,
    e.g. `%m/%d/%Y %H%M`, `%Y-%m-%dT%H:%M:%S%.f%:z`). `timezone` applies to naive
    results only (see the module docstring for DST rules); None means UTC.
    """
    series = values if isinstance(values, pl.Series) else pl.Series(values)
    series = series.cast(pl.String)
    check_format(fmt)
    check_timezone(timezone)
    if fmt.startswith("epoch_"):
        return parse_epoch(series, NS_PER_UNIT[fmt.removeprefix("epoch_")])
    if fmt == "rfc3339":
        return _parse_rfc3339(series, timezone)
    if fmt == "date":
        fmt = "%Y-%m-%d"
    return _parse_strftime(series, fmt, timezone)


def parse_epoch(series: pl.Series, ns_per_unit: int) -> pl.Series:
    """Integer (or decimal) epoch numbers in some unit to Int64 ns."""
    as_int = series.cast(pl.Int64, strict=False)
    result = as_int * ns_per_unit
    if as_int.null_count() > series.null_count():
        as_float = series.cast(pl.Float64, strict=False) * float(ns_per_unit)
        as_float = pl.select(
            pl.when(as_float.is_finite()).then(as_float.round(0)).otherwise(None)
        ).to_series()
        result = result.fill_null(as_float.cast(pl.Int64, strict=False))
    return result.alias(series.name)


def _parse_rfc3339(series: pl.Series, timezone: str | None) -> pl.Series:
    """RFC 3339 with offset (`Z`, `+01:00`); values without an offset are local to `timezone`."""
    aware = series.str.strptime(pl.Datetime("ns", "UTC"), "%+", strict=False, cache=False)
    aware = aware.dt.epoch("ns")
    missing = aware.is_null() & series.is_not_null()
    if not missing.any():
        return aware.alias(series.name)
    naive = _parse_strftime(series, "%Y-%m-%dT%H:%M:%S%.f", timezone)
    naive = naive.fill_null(_parse_strftime(series, "%Y-%m-%d %H:%M:%S%.f", timezone))
    return aware.fill_null(naive).alias(series.name)


def _parse_strftime(series: pl.Series, fmt: str, timezone: str | None) -> pl.Series:
    if _has_offset(fmt):
        parsed = series.str.strptime(pl.Datetime("ns", "UTC"), fmt, strict=False, cache=False)
        return parsed.dt.epoch("ns").alias(series.name)
    naive = series.str.strptime(pl.Datetime("ns"), fmt, strict=False, cache=False)
    failed = naive.is_null() & series.is_not_null()
    if "%H" in fmt and failed.any():
        naive = naive.fill_null(_parse_hour_24(series, failed, fmt))
    return localize(naive, timezone).alias(series.name)


def _parse_hour_24(series: pl.Series, failed: pl.Series, fmt: str) -> pl.Series:
    """Parse the failed values whose hour is 24 (minutes/seconds zero) as 00 of the next day.

    Only the failed rows are examined, so clean files never pay for this.
    """
    pattern = _hour_24_regex(fmt)
    out = pl.Series(series.name, [None] * len(series), dtype=pl.Datetime("ns"))
    if pattern is None:
        return out
    index = failed.arg_true()
    subset = series.gather(index)
    rewritten = subset.str.replace(pattern, "${1}00${2}")
    rewritten = pl.select(
        pl.when(subset.str.contains(pattern)).then(rewritten).otherwise(None)
    ).to_series()
    parsed = rewritten.str.strptime(pl.Datetime("ns"), fmt, strict=False, cache=False)
    parsed = parsed + timedelta(days=1)
    parsed = parsed.cast(pl.Datetime("ns"))
    return out.scatter(index, parsed)


_DIRECTIVE_REGEX: dict[str, str] = {
    "Y": r"[+-]?\d{4}",
    "y": r"\d{2}",
    "m": r"\d{1,2}",
    "d": r"\d{1,2}",
    "e": r" ?\d{1,2}",
    "j": r"\d{3}",
    "b": r"[A-Za-z]{3}",
    "h": r"[A-Za-z]{3}",
    "B": r"[A-Za-z]+",
    "a": r"[A-Za-z]{3}",
    "A": r"[A-Za-z]+",
    "p": r"[AaPp][Mm]",
    "I": r"\d{1,2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d+",
    "Z": r"[A-Za-z]+",
    "%": "%",
}
_AFTER_HOUR_ZERO: dict[str, str] = {"M": "00", "S": "00", "f": "0+"}


def _hour_24_regex(fmt: str) -> str | None:
    """Regex `^(prefix)24(suffix)$` for `fmt`, with minutes/seconds after %H forced to zero."""
    head, sep, tail = fmt.partition("%H")
    if not sep:
        return None
    prefix = _format_regex(head, {})
    suffix = _format_regex(tail, _AFTER_HOUR_ZERO)
    if prefix is None or suffix is None:
        return None
    return f"^({prefix})24({suffix})$"


def _format_regex(fmt: str, overrides: dict[str, str]) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(re.escape(ch))
            i += 1
            continue
        directive = fmt[i + 1 : i + 2]
        if directive == ".":  # chrono's %.f / %.3f ...: optional fraction
            end = fmt.find("f", i)
            out.append(r"(?:\.0+)?" if overrides else r"(?:\.\d+)?")
            i = end + 1
            continue
        if directive not in _DIRECTIVE_REGEX:
            return None
        out.append(overrides.get(directive, _DIRECTIVE_REGEX[directive]))
        i += 2
    return "".join(out)


def _has_offset(fmt: str) -> bool:
    return any(d in fmt for d in ("%z", "%:z", "%#z", "%+"))


def localize(naive: pl.Series, timezone: str | None) -> pl.Series:
    """Naive local datetimes to Int64 ns UTC with the DST rules of the module docstring.

    Offsets only change at transitions, so they are computed once per local hour
    spanned by the data and looked up with NumPy; hours that contain a transition
    (or a gap) fall back to the exact per-value conversion.
    """
    naive = naive.cast(pl.Datetime("ns"))
    if timezone is None or timezone.upper() == "UTC":
        return naive.dt.epoch("ns")
    fixed = _fixed_offset_ns(timezone)
    if fixed is not None:
        return naive.dt.epoch("ns") - fixed
    local = naive.dt.epoch("ns")
    valid = local.is_not_null()
    if not valid.any():
        return local
    values = local.fill_null(0).to_numpy()
    hours = np.floor_divide(values, _HOUR_NS)
    present = hours[valid.to_numpy()]
    first, last = int(present.min()), int(present.max())
    if last - first > _MAX_GRID_HOURS:
        return _localize_exact(local, timezone)
    grid = _hour_grid(timezone, first, last)
    slot = hours - grid.first_hour
    fast = grid.uniform[np.clip(slot, 0, len(grid.uniform) - 1)]
    result = values - grid.offset[np.clip(slot, 0, len(grid.offset) - 1)]
    out = pl.Series(local.name, result, pl.Int64)
    slow = (~fast) & valid.to_numpy()
    if slow.any():
        index = pl.Series(np.flatnonzero(slow))
        out = out.scatter(index, _localize_exact(local.gather(index), timezone))
    return pl.select(pl.when(valid).then(out).otherwise(None)).to_series().alias(local.name)


class _HourGrid:
    """UTC offset of every local hour in a range, and whether it holds throughout the hour."""

    def __init__(self, timezone: str, first_hour: int, last_hour: int) -> None:
        self.first_hour, self.last_hour = first_hour, last_hour
        starts = np.arange(first_hour, last_hour + 1, dtype=np.int64) * _HOUR_NS
        ends = starts + (_HOUR_NS - 1)
        start_utc = _localize_exact(pl.Series(starts), timezone).to_numpy()
        end_utc = _localize_exact(pl.Series(ends), timezone).to_numpy()
        self.offset = starts - start_utc
        self.uniform = self.offset == ends - end_utc


_GRIDS: dict[str, _HourGrid] = {}


def _hour_grid(timezone: str, first: int, last: int) -> _HourGrid:
    """Cached per zone; widened (with a year of margin) when data falls outside it."""
    grid = _GRIDS.get(timezone)
    if grid is None or first < grid.first_hour or last > grid.last_hour:
        margin = 366 * 24
        lo = first - margin if grid is None else min(first, grid.first_hour) - margin
        hi = last + margin if grid is None else max(last, grid.last_hour) + margin
        grid = _GRIDS[timezone] = _HourGrid(timezone, lo, hi)
    return grid


_HOUR_NS = 3_600_000_000_000
_MAX_GRID_HOURS = 2_000_000  # ~228 years of hours; wider spans use the exact path


def _localize_exact(local_ns: pl.Series, timezone: str) -> pl.Series:
    """Per-value conversion: ambiguous → earlier instant, nonexistent → offset before the gap."""
    naive = local_ns.cast(pl.Datetime("ns"))
    aware = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    utc_ns = aware.dt.epoch("ns")
    gap = utc_ns.is_null() & naive.is_not_null()
    if not gap.any():
        return utc_ns
    local = naive.dt.epoch("ns")
    probe = (local - _GAP_PROBE_NS).cast(pl.Datetime("ns"))
    probe_utc = probe.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.epoch("ns")
    offset_before = (local - _GAP_PROBE_NS) - probe_utc
    return utc_ns.fill_null(local - offset_before)


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def _fixed_offset_ns(text: str) -> int | None:
    """`+0100`, `-05:00` → offset in ns east of UTC; None for anything else."""
    match = _OFFSET.match(text.strip())
    if match is None:
        return None
    sign = 1 if match.group(1) == "+" else -1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return sign * minutes * 60 * 1_000_000_000


def local_zone_name() -> str:
    """The machine's zone as a fixed offset (for InfluxDB's `#timezone Local`)."""
    offset = datetime.now(UTC).astimezone().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


_GO_LAYOUT = [
    ("January", "%B"),
    ("Monday", "%A"),
    ("2006", "%Y"),
    ("Z07:00", "%:z"),
    ("-07:00", "%:z"),
    ("Z0700", "%z"),
    ("-0700", "%z"),
    ("MST", "%Z"),
    (".000000000", "%.9f"),
    (".999999999", "%.f"),
    (".000000", "%.6f"),
    (".999999", "%.f"),
    (".000", "%.3f"),
    (".999", "%.f"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("15", "%H"),
    ("06", "%y"),
    ("01", "%m"),
    ("02", "%d"),
    ("_2", "%e"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("PM", "%p"),
    ("pm", "%p"),
    ("1", "%m"),
    ("2", "%d"),
    ("3", "%I"),
    ("4", "%M"),
    ("5", "%S"),
]


def go_layout_to_strftime(layout: str) -> str:
    """Translate a Go reference layout (`2006-01-02 15:04:05`) to a strftime pattern.

    InfluxDB's `dateTime:<layout>` annotation uses Go layouts; Polars wants strftime.
    """
    out: list[str] = []
    i = 0
    while i < len(layout):
        for token, directive in _GO_LAYOUT:
            if layout.startswith(token, i):
                out.append(directive)
                i += len(token)
                break
        else:
            ch = layout[i]
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out)
