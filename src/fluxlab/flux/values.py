"""Flux values as Python objects.

    null -> None            bool -> bool           int -> int          uint -> Unsigned
    float -> float          string -> str          time -> Time        duration -> Duration
    regexp -> Regex         array -> list          record -> dict (insertion-ordered)
    dictionary -> Dictionary                        function -> Function
    stream of tables -> fluxlab.flux.table.Stream   bytes -> bytes

Records are plain dicts; a Flux dictionary is the distinct `Dictionary` type because
the two behave differently (static keys vs. runtime lookup with a default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from fluxlab.model.points import Unsigned

__all__ = ["Dictionary", "Duration", "Function", "Regex", "Time", "Unsigned", "type_name"]


@dataclass(frozen=True, slots=True, order=True)
class Time:
    """An instant: nanoseconds since the Unix epoch, UTC."""

    ns: int


@dataclass(frozen=True, slots=True)
class Duration:
    """A Flux duration: calendar months plus nanoseconds, with one sign for both.

    `1mo2d` is months=1, nanoseconds=2*86400e9. Months cannot be converted to a fixed
    number of nanoseconds, so adding a duration to a time is calendar arithmetic.
    """

    months: int = 0
    nanoseconds: int = 0
    negative: bool = False

    @classmethod
    def of_ns(cls, ns: int) -> Duration:
        return cls(0, abs(ns), ns < 0)

    def is_fixed(self) -> bool:
        return self.months == 0

    def total_ns(self) -> int:
        """Nanoseconds of a duration without months (raises for calendar durations)."""
        if self.months:
            raise ValueError("duration with months has no fixed length")
        return -self.nanoseconds if self.negative else self.nanoseconds

    def __neg__(self) -> Duration:
        return Duration(self.months, self.nanoseconds, not self.negative)


@dataclass(frozen=True, slots=True)
class Regex:
    """A compiled regular expression; `source` is the Flux (RE2) text. Build it with
    `Regex.compile`, which translates the RE2 spellings Python reads differently."""

    source: str
    compiled: re.Pattern[str]

    @classmethod
    def compile(cls, source: str) -> Regex:
        """Compile RE2 text (as `regexp.compile` receives it) for Python's `re`."""
        return cls(source, re.compile(re2_to_python(source)))


_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r" -~",
    "graph": r"!-~",
    "ascii": r"\x00-\x7f",
}
_POSIX_CLASS = re.compile(r"\[:(\w+):\]")
_NEGATED_POSIX_CLASS = re.compile(r"\[\[:\^(\w+):\]\]")


def re2_to_python(pattern: str) -> str:
    """Spell the RE2 constructs Python's `re` lacks (POSIX `[[:alpha:]]` and `[[:^alpha:]]`
    classes, `\\z`) the Python way, so a pattern means the same as in Flux (Go's regexp)."""
    out = _NEGATED_POSIX_CLASS.sub(
        lambda m: f"[^{_POSIX_CLASSES[m.group(1)]}]" if m.group(1) in _POSIX_CLASSES else m[0],
        pattern,
    )
    out = _POSIX_CLASS.sub(lambda m: _POSIX_CLASSES.get(m.group(1), m.group(0)), out)
    return out.replace(r"\z", r"\Z")


class Dictionary(dict):
    """A Flux dictionary (`["a": 1]`): keys of one type, values of one type."""


class Function(Protocol):
    """Anything callable from Flux with named arguments."""

    name: str

    def __call__(self, ctx: Any, args: dict[str, Any]) -> Any: ...


def type_name(value: Any) -> str:
    """Flux's name for the type of a value, for error messages."""
    from fluxlab.flux.table import Stream

    match value:
        case None:
            return "null"
        case bool():
            return "bool"
        case Unsigned():
            return "uint"
        case int():
            return "int"
        case float():
            return "float"
        case str():
            return "string"
        case Time():
            return "time"
        case Duration():
            return "duration"
        case Regex():
            return "regexp"
        case bytes():
            return "bytes"
        case Dictionary():
            return "dict"
        case dict():
            return "record"
        case list():
            return "array"
        case Stream():
            return "stream"
    return "function" if callable(value) else type(value).__name__
