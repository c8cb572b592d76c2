"""Durations and times typed on the command line."""

from __future__ import annotations

import pytest

from fluxlab.cli.parsing import parse_duration, parse_time

NS = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", 30 * 86400 * NS), ("1h30m", 5400 * NS), ("72h", 72 * 3600 * NS), ("1w", 604800 * NS),
     ("0", 0), ("infinite", 0), ("250ms", 250_000_000), ("5us", 5000), ("7ns", 7)],
)
def test_durations(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "30 days", "1h-5m", "", "-1h"])
def test_bad_durations_show_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="e.g. 30d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-04-01T13:00:00Z", 1554123600 * NS),
        ("2019-04-01T13:00:00.000000001Z", 1554123600 * NS + 1),
        ("2019-04-01T15:00:00+02:00", 1554123600 * NS),
        ("2019-04-01", 1554076800 * NS),
        ("1554123600000000000", 1554123600 * NS),
        ("0", 0),
        ("1969-12-31T23:59:59.5Z", -NS // 2),
    ],
)
def test_absolute_times(text: str, expected: int) -> None:
    assert parse_time(text) == expected


def test_relative_times_count_back_from_now() -> None:
    now = 1_700_000_000 * NS
    assert parse_time("now", now_ns=now) == now
    assert parse_time("-1h", now_ns=now) == now - 3600 * NS


def test_bad_time_error_lists_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"invalid time 'yesterday': use RFC 3339"):
        parse_time("yesterday")
