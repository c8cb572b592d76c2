"""Parsing of the few value kinds users type on the command line: durations and times.

Errors say what was typed and show a valid example, because these are typed by hand.
"""

from __future__ import annotations

import datetime as dt
import re
import time

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
    "d": 86_400 * 1_000_000_000,
    "w": 604_800 * 1_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+)(ns|us|µs|ms|s|m|h|d|w)")
_RFC3339 = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?)"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<zone>Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_duration(text: str) -> int:
    """`30d`, `1h30m`, `0`/`infinite` (keep forever) -> nanoseconds."""
    cleaned = text.strip().lower()
    if cleaned in ("0", "inf", "infinite", "forever"):
        return 0
    position, total = 0, 0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            break
        total += int(match.group(1)) * _UNITS_NS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or not cleaned:
        raise ValueError(
            f"invalid duration {text!r}: use a number with a unit (ns, us, ms, s, m, h, d, w), "
            "e.g. 30d or 1h30m, or 0 for infinite"
        )
    return total


def parse_time(text: str, *, now_ns: int | None = None) -> int:
    """A time as RFC 3339 (`2019-01-01T00:00:00Z`), a date, integer ns, `now` or `-1h`.

    Naive times are UTC: the command line has no zone context, and guessing the local
    zone would make the same command mean different things on different machines.
    """
    cleaned = text.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if cleaned == "now":
        return now
    if re.fullmatch(r"-?\d+", cleaned):
        return int(cleaned)
    if cleaned.startswith("-") and not cleaned[1:].isdigit():
        return now - parse_duration(cleaned[1:])
    match = _RFC3339.match(cleaned)
    if match is None:
        raise ValueError(
            f"invalid time {text!r}: use RFC 3339 like 2019-01-01T00:00:00Z, a date like "
            "2019-01-01, nanoseconds since the epoch, `now`, or a relative time like -1h"
        )
    base = dt.datetime.fromisoformat(match.group("base").replace(" ", "T"))
    zone = match.group("zone")
    if zone and zone.upper() != "Z":
        base = base.replace(tzinfo=dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo)
    else:
        base = base.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = base - epoch
    seconds = delta.days * 86_400 + delta.seconds
    fraction = (match.group("frac") or "").ljust(9, "0")
    return seconds * 1_000_000_000 + int(fraction or 0)
