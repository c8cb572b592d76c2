"""Timestamp precisions of line protocol and the InfluxDB write API.

Line protocol timestamps are integers in a precision chosen by the writer
(`?precision=ns|us|ms|s`); internally every timestamp is int64 nanoseconds, so a
precision is just the factor that converts one to the other.
"""

from __future__ import annotations

import enum

MIN_TIME_NS = -9223372036854775806
"""Smallest timestamp InfluxDB accepts (int64 min + 2: the two lowest are reserved)."""

MAX_TIME_NS = 9223372036854775806
"""Largest timestamp InfluxDB accepts (int64 max - 1)."""


class Precision(enum.Enum):
    """A timestamp precision; the value is the unit's length in nanoseconds."""

    NS = 1
    US = 1_000
    MS = 1_000_000
    S = 1_000_000_000

    @property
    def multiplier(self) -> int:
        """Nanoseconds per unit of this precision."""
        return self.value

    @property
    def label(self) -> str:
        """The canonical name used by the InfluxDB API (`ns`, `us`, `ms`, `s`)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | Precision) -> Precision:
        """Read a precision as users and the InfluxDB API spell it (`ns`, `n`, `µs`, ...)."""
        if isinstance(text, Precision):
            return text
        key = text.strip().lower()
        try:
            return _ALIASES[key]
        except KeyError:
            raise ValueError(
                f"unknown precision {text!r}: expected one of ns, us, ms, s"
            ) from None

    def to_ns(self, value: int) -> int:
        """Convert a timestamp in this precision to nanoseconds."""
        return value * self.value

    def from_ns(self, value_ns: int) -> int:
        """Convert nanoseconds to this precision, rounding towards minus infinity."""
        return value_ns // self.value

    def bounds(self) -> tuple[int, int]:
        """The range of timestamps, in this precision, that fit InfluxDB's nanosecond range."""
        return -(-MIN_TIME_NS // self.value), MAX_TIME_NS // self.value


_ALIASES: dict[str, Precision] = {
    "ns": Precision.NS,
    "n": Precision.NS,
    "nanosecond": Precision.NS,
    "nanoseconds": Precision.NS,
    "us": Precision.US,
    "u": Precision.US,
    "µs": Precision.US,
    "μs": Precision.US,
    "µ": Precision.US,
    "microsecond": Precision.US,
    "microseconds": Precision.US,
    "ms": Precision.MS,
    "millisecond": Precision.MS,
    "milliseconds": Precision.MS,
    "s": Precision.S,
    "second": Precision.S,
    "seconds": Precision.S,
}
