"""Package "timezone" and the local-clock arithmetic that windows and dates share.

A Flux location is a record `{zone: string, offset: duration}`. Calendar work
(daily windows, `date.hour`, `truncateTimeColumn`) happens on the *local clock*:
the UTC instant shifted into the zone (plus the fixed offset), treated as a naive
time. Converting a local clock value back to an instant picks the earliest instant
for ambiguous clock times (DST fall-back) and the transition instant for clock
times that do not exist (DST spring-forward), as Flux does.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.values import Duration

UTC_ZONE = "UTC"
_NAIVE_NS = pl.Datetime("ns")


def utc_location() -> dict[str, Any]:
    return {"zone": UTC_ZONE, "offset": Duration()}


@builtin("timezone")
def location(ctx: Any, name: str) -> dict[str, Any]:
    """`timezone.location(name:)`: a named IANA zone."""
    if not isinstance(name, str):
        raise FluxTypeError("timezone.location: name must be a string")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FluxRuntimeError(f'timezone.location: unknown time zone "{name}"') from exc
    return {"zone": name, "offset": Duration()}


@builtin("timezone")
def fixed(ctx: Any, offset: Duration) -> dict[str, Any]:
    """`timezone.fixed(offset:)`: a constant offset from UTC."""
    if not isinstance(offset, Duration):
        raise FluxTypeError("timezone.fixed: offset must be a duration")
    return {"zone": UTC_ZONE, "offset": offset}


register_value("timezone", "utc", utc_location())


# ------------------------------------------------------------------ location helpers


def parse_location(loc: Any) -> tuple[str, Duration]:
    """(zone name, extra offset) of a location record; None means UTC."""
    if loc is None:
        return UTC_ZONE, Duration()
    if isinstance(loc, str):  # older Flux accepted a bare zone name
        return loc, Duration()
    if not isinstance(loc, dict):
        raise FluxTypeError("location must be a record {zone: string, offset: duration}")
    zone = loc.get("zone") or UTC_ZONE
    offset = loc.get("offset") or Duration()
    if not isinstance(zone, str) or not isinstance(offset, Duration):
        raise FluxTypeError("location must be a record {zone: string, offset: duration}")
    return zone, offset


def is_utc(loc: Any) -> bool:
    zone, offset = parse_location(loc)
    return zone == UTC_ZONE and offset.months == 0 and offset.nanoseconds == 0


def add_duration_ns(ns: pl.Series, d: Duration, scale: int = 1) -> pl.Series:
    """Vectorized `t + scale*d` on int64 nanoseconds (months are calendar months)."""
    sign = -scale if d.negative else scale
    out = ns.cast(pl.Int64)
    if d.months:
        months = sign * d.months
        out = out.cast(_NAIVE_NS).dt.offset_by(f"{months}mo").cast(pl.Int64)
    if d.nanoseconds:
        out = out + sign * d.nanoseconds
    return out


def to_local(ns: pl.Series, loc: Any) -> pl.Series:
    """Local clock (naive int64 ns) of UTC instants in `loc`."""
    zone, offset = parse_location(loc)
    out = ns.cast(pl.Int64)
    if zone != UTC_ZONE:
        out = (
            out.cast(pl.Datetime("ns", "UTC"))
            .dt.convert_time_zone(zone)
            .dt.replace_time_zone(None)
            .cast(pl.Int64)
        )
    return add_duration_ns(out, offset)


def from_local(local: pl.Series, loc: Any) -> pl.Series:
    """UTC instants (int64 ns) of local clock values in `loc` (see module doc)."""
    zone, offset = parse_location(loc)
    out = add_duration_ns(local.cast(pl.Int64), offset, -1)
    if zone == UTC_ZONE:
        return out
    naive = out.cast(_NAIVE_NS)
    inst = (
        naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .cast(pl.Int64)
    )
    if inst.null_count():
        gaps = out.filter(inst.is_null()).unique().to_list()
        fixed_gaps = {v: _gap_instant(v, zone) for v in gaps}
        repl = out.replace_strict(fixed_gaps, default=None, return_dtype=pl.Int64)
        inst = inst.fill_null(repl)
    return inst


def _utc_offset_ns(instant_ns: int, zone: ZoneInfo) -> int:
    import datetime as dt

    when = dt.datetime.fromtimestamp(instant_ns // 10**9, dt.UTC).astimezone(zone)
    off = when.utcoffset()
    return int(off.total_seconds()) * 10**9 if off is not None else 0


def _gap_instant(local_ns: int, zone_name: str) -> int:
    """The transition instant for a local clock time skipped by a DST jump."""
    zone = ZoneInfo(zone_name)
    day = 86_400 * 10**9
    off_after = _utc_offset_ns(local_ns + day, zone)
    off_before = _utc_offset_ns(local_ns - day, zone)
    lo, hi = local_ns - off_after, local_ns - off_before
    # Invariant: offset(lo) is the old offset, offset(hi) the new one.
    while hi - lo > 10**9:
        mid = (lo + hi) // 2
        if _utc_offset_ns(mid, zone) == off_after:
            hi = mid
        else:
            lo = mid
    return hi - hi % 10**9
