"""Vectorized time parsing: formats, the hour-24 rule, DST-correct zones."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from fluxlab.model.timeparse import (
    TimeFormatError,
    check_format,
    check_timezone,
    go_layout_to_strftime,
    parse_times,
)


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def parse(values: list[str | None], fmt: str, tz: str | None = None) -> list[int | None]:
    return parse_times(pl.Series(values, dtype=pl.String), fmt, timezone=tz).to_list()


def test_hour_24_is_midnight_at_end_of_day() -> None:
    got = parse(["01/31/2020 2400", "12/31/2020 2400", "01/02/2020 0930"], "%m/%d/%Y %H%M")
    assert got == [ns("2020-02-01T00:00:00"), ns("2021-01-01T00:00:00"), ns("2020-01-02T09:30:00")]


def test_hour_24_with_minutes_is_an_error() -> None:
    assert parse(["01/02/2020 2430", "01/02/2020 2500"], "%m/%d/%Y %H%M") == [None, None]


def test_hour_24_in_a_zone_uses_the_next_local_day() -> None:
    got = parse(["2021-11-06 24:00"], "%Y-%m-%d %H:%M", "America/New_York")
    assert got == [ns("2021-11-07T04:00:00")]  # 00:00 EDT on Nov 7


def test_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    # 02:30 does not exist in New York on 2021-03-14; read with EST (-5) → 07:30 UTC
    assert parse(["2021-03-14 02:30"], "%Y-%m-%d %H:%M", "America/New_York") == [
        ns("2021-03-14T07:30:00")
    ]


def test_ambiguous_local_time_takes_the_earlier_instant() -> None:
    # 01:30 happens twice on 2021-11-07; the first one is EDT (-4) → 05:30 UTC
    assert parse(["2021-11-07 01:30"], "%Y-%m-%d %H:%M", "America/New_York") == [
        ns("2021-11-07T05:30:00")
    ]


def test_summer_and_winter_offsets() -> None:
    got = parse(["2021-07-01 12:00", "2021-01-01 12:00"], "%Y-%m-%d %H:%M", "America/New_York")
    assert got == [ns("2021-07-01T16:00:00"), ns("2021-01-01T17:00:00")]


def test_rfc3339_with_and_without_offset() -> None:
    got = parse(
        ["2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", "2020-01-01T00:00:00.5", "nope"],
        "rfc3339",
        "Europe/Paris",
    )
    assert got[:2] == [ns("2020-01-01T00:00:00")] * 2
    assert got[2] == ns("2019-12-31T23:00:00") + 500_000_000
    assert got[3] is None


def test_epoch_units_and_fixed_offsets() -> None:
    assert parse(["1600000000", "1600000000.5", "x"], "epoch_s") == [
        1_600_000_000_000_000_000, 1_600_000_000_500_000_000, None,
    ]
    assert parse(["1600000000000"], "epoch_ms") == [1_600_000_000_000_000_000]
    assert parse(["2020-01-02"], "date", "-0500") == [ns("2020-01-02T05:00:00")]


def test_null_stays_null() -> None:
    assert parse([None], "%Y", None) == [None]


def test_unknown_zone_and_format_are_reported() -> None:
    with pytest.raises(TimeFormatError, match="unknown time zone 'Mars/Olympus'"):
        check_timezone("Mars/Olympus")
    with pytest.raises(TimeFormatError, match="unknown time format 'yyyy'"):
        check_format("yyyy")


def test_go_layouts() -> None:
    assert go_layout_to_strftime("2006-01-02T15:04:05.999999999Z07:00") == (
        "%Y-%m-%dT%H:%M:%S%.f%:z"
    )
    assert go_layout_to_strftime("02/01/2006 15:04") == "%d/%m/%Y %H:%M"
