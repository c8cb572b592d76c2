"""bitwise / experimental/bitwise: 64-bit wrapping like Go's int64 and uint64."""

from __future__ import annotations

from typing import Any

import pytest

from fluxlab.flux import run
from fluxlab.flux.compile import frame_records
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import PACKAGES
from fluxlab.flux.stdlib import load_all
from fluxlab.flux.values import Unsigned

load_all()
U64 = 2**64 - 1


def result_rows(source: str) -> list[dict[str, Any]]:
    stream = next(iter(run(source).values()))
    return [row for table in stream for row in frame_records(table.df)]


def call(name: str, package: str = "experimental/bitwise", **args: Any) -> Any:
    return PACKAGES[package][name](None, args)


@pytest.mark.parametrize(
    ("name", "a", "b", "want"),
    [
        ("sand", 12, 10, 8),
        ("sor", 12, 10, 14),
        ("sxor", 12, 10, 6),
        ("sclear", 12, 10, 4),  # 1100 &^ 1010 = 0100
        ("sand", -6, 7, 2),  # ...11010 & 00111
        ("slshift", 3, 2, 12),
        ("slshift", 1, 63, -(2**63)),  # into the sign bit
        ("slshift", 1, 64, 0),
        ("srshift", -8, 1, -4),  # arithmetic shift keeps the sign
        ("srshift", -8, 100, -1),
        ("srshift", 8, 100, 0),
    ],
)
def test_signed_operations(name: str, a: int, b: int, want: int) -> None:
    assert call(name, a=a, b=b) == want


@pytest.mark.parametrize(
    ("name", "a", "b", "want"),
    [
        ("uand", 12, 10, 8),
        ("uor", 12, 10, 14),
        ("uxor", 12, 10, 6),
        ("uclear", 12, 10, 4),
        ("ulshift", U64, 4, U64 - 15),  # high bits fall off
        ("ulshift", 1, 64, 0),
        ("urshift", U64, 60, 15),  # logical shift: zeros come in
        ("urshift", U64, 64, 0),
    ],
)
def test_unsigned_operations(name: str, a: int, b: int, want: int) -> None:
    got = call(name, a=Unsigned(a), b=Unsigned(b))
    assert isinstance(got, Unsigned)
    assert got == want


def test_not_wraps_at_64_bits() -> None:
    assert call("snot", a=0) == -1
    assert call("snot", a=2**63 - 1) == -(2**63)
    assert call("unot", a=Unsigned(0)) == U64
    assert call("unot", a=Unsigned(U64)) == 0


def test_both_package_paths_register_the_same_functions() -> None:
    assert set(PACKAGES["bitwise"]) == set(PACKAGES["experimental/bitwise"])
    assert call("sand", package="bitwise", a=6, b=3) == 2


def test_type_and_shift_errors_are_clear() -> None:
    with pytest.raises(FluxTypeError, match="a must be a uint"):
        call("uand", a=1, b=Unsigned(1))
    with pytest.raises(FluxTypeError, match="b must be an int"):
        call("sand", a=1, b=Unsigned(1))
    with pytest.raises(FluxRuntimeError, match="must not be negative"):
        call("slshift", a=1, b=-1)


def test_in_map_over_uint_columns() -> None:
    rows = result_rows(
        'import "array"\nimport "math"\nimport "experimental/bitwise"\n'
        "array.from(rows: [{a: math.maxuint}, {a: uint(v: 5)}])\n"
        "  |> map(fn: (r) => ({_value: bitwise.unot(a: r.a), big: uint(v: r.a)}))"
    )
    assert [r["_value"] for r in rows] == [0, U64 - 5]
    assert [r["big"] for r in rows] == [U64, 5]  # uint(v: uint) keeps values above int range
