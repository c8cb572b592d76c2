"""Precision parsing and conversion (the `?precision=` values of the InfluxDB write API)."""

import pytest

from fluxlab.model.precision import MAX_TIME_NS, MIN_TIME_NS, Precision


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ns", Precision.NS),
        ("n", Precision.NS),
        ("us", Precision.US),
        ("u", Precision.US),
        ("µs", Precision.US),
        ("μs", Precision.US),
        ("ms", Precision.MS),
        ("s", Precision.S),
        (" MS ", Precision.MS),
        (Precision.S, Precision.S),
    ],
)
def test_parse_accepts_api_spellings(text: str, expected: Precision) -> None:
    assert Precision.parse(text) is expected


def test_parse_rejects_unknown_with_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of ns, us, ms, s"):
        Precision.parse("h")


def test_multipliers_and_labels() -> None:
    assert [p.multiplier for p in Precision] == [1, 1_000, 1_000_000, 1_000_000_000]
    assert [p.label for p in Precision] == ["ns", "us", "ms", "s"]


def test_conversion_round_trip_and_floor() -> None:
    assert Precision.MS.to_ns(1_554_123_600_000) == 1_554_123_600_000_000_000
    assert Precision.S.from_ns(1_554_123_600_999_999_999) == 1_554_123_600
    assert Precision.S.from_ns(-1) == -1  # floor, not truncation towards zero


def test_bounds_stay_inside_influxdb_range() -> None:
    for precision in Precision:
        low, high = precision.bounds()
        assert precision.to_ns(high) <= MAX_TIME_NS < precision.to_ns(high + 1)
        assert precision.to_ns(low) >= MIN_TIME_NS > precision.to_ns(low - 1)
