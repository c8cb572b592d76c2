"""experimental.diff/objectKeys/catch/kaufmansAMA, universe pearsonr, record, dict, json,
and the date boundaries package, run through the interpreter."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from fluxlab.flux import run
from fluxlab.flux.compile import frame_records
from fluxlab.flux.errors import FluxError
from fluxlab.flux.values import Time

ROWS = 'import "array"\nimport "experimental"\n'


def tables(source: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    stream = next(iter(run(source).values()))
    return [(t.key_dict(), frame_records(t.df)) for t in stream]


def rows(source: str) -> list[dict[str, Any]]:
    return [row for _, table_rows in tables(source) for row in table_rows]


def utc(text: str) -> Time:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return Time(int(moment.timestamp()) * 10**9)


# ---------------------------------------------------------------------------- diff


def _stream(values: str, field: str = "f") -> str:
    return (
        f"array.from(rows: [{values}])"
        f' |> map(fn: (r) => ({{r with _field: "{field}"}})) |> group(columns: ["_field"])'
    )


def test_diff_of_equal_streams_is_empty() -> None:
    src = ROWS + f"want = {_stream('{_value: 1}, {_value: 2}')}\n"
    src += f"{_stream('{_value: 1}, {_value: 2}')} |> experimental.diff(want: want)"
    assert tables(src) == []


def test_diff_marks_rows_and_appends_got_only_rows() -> None:
    # want 1,2,2,3 vs got 2,3,4: one 2 is unmatched (rows compare as a multiset)
    src = ROWS + f"want = {_stream('{_value: 1}, {_value: 2}, {_value: 2}, {_value: 3}')}\n"
    src += f"{_stream('{_value: 2}, {_value: 3}, {_value: 4}')} |> experimental.diff(want: want)"
    [(key, out)] = tables(src)
    assert key == {"_field": "f"}
    assert [(r["_diff"], r["_value"]) for r in out] == [
        ("-", 1), ("", 2), ("-", 2), ("", 3), ("+", 4)
    ]


def test_diff_reports_tables_present_on_one_side_only() -> None:
    src = ROWS + f"want = {_stream('{_value: 1}', 'a')}\n"
    src += f"{_stream('{_value: 5}', 'b')} |> experimental.diff(want: want)"
    found = {key["_field"]: [(r["_diff"], r["_value"]) for r in out] for key, out in tables(src)}
    assert found == {"a": [("-", 1)], "b": [("+", 5)]}


# ------------------------------------------------------------ objectKeys, catch


def test_object_keys_in_record_order() -> None:
    out = rows(ROWS + 'array.from(rows: [{k: experimental.objectKeys(o: {b: 1, a: "x"})[1]}])')
    assert out == [{"k": "a"}]


def test_catch_returns_the_error_message_instead_of_failing() -> None:
    src = ROWS + 'c = experimental.catch(fn: () => die(msg: "boom"))\n'
    src += 'ok = experimental.catch(fn: () => 40 + 2)\n'
    src += "array.from(rows: [{msg: c.msg, failed: c.code > uint(v: 0), v: ok.value}])"
    [row] = rows(src)
    assert "boom" in row["msg"]
    assert row["failed"] is True
    assert row["v"] == 42


def test_experimental_kaufmans_ama_matches_universe() -> None:
    data = ", ".join(f"{{_time: 2020-01-01T00:00:{i:02d}Z, _value: {v}.0}}" for i, v in
                     enumerate([1, 3, 2, 5, 4, 6, 8, 7]))
    base = f"data = array.from(rows: [{data}])\n"
    universe = rows(ROWS + base + "data |> kaufmansAMA(n: 3)")
    experimental = rows(ROWS + base + "data |> experimental.kaufmansAMA(n: 3)")
    assert experimental == universe
    assert len(experimental) == 5  # the first n rows only seed the average


def test_pearsonr_of_linear_series_is_one() -> None:
    def series(values: list[float]) -> str:
        parts = [f"{{_time: 2020-01-01T00:0{i}:00Z, _value: {v}}}" for i, v in enumerate(values)]
        return "array.from(rows: [" + ", ".join(parts) + "])"

    src = ROWS + f"pearsonr(x: {series([1.0, 2.0, 4.0])}, y: {series([3.0, 5.0, 9.0])}, "
    src += 'on: ["_time"])'
    [row] = rows(src)
    assert row["_value"] == pytest.approx(1.0)  # y = 2x + 1


# -------------------------------------------------------------- record, dict, json


def test_record_get_and_at() -> None:
    src = 'import "array"\nimport "experimental/record"\nr = {a: 1}\n'
    src += 'array.from(rows: [{x: record.get(r: r, key: "a", default: 0), '
    src += 'y: record.get(r: r, key: "zz", default: -1), z: record.at(r: r, key: "a")}])'
    assert rows(src) == [{"x": 1, "y": -1, "z": 1}]
    with pytest.raises(FluxError, match="no label"):
        run('import "experimental/record"\nx = record.at(r: {a: 1}, key: "b")')


def test_dict_functions_return_new_dictionaries() -> None:
    src = 'import "array"\nimport "dict"\n'
    src += 'd = dict.fromList(pairs: [{key: "a", value: 1}, {key: "b", value: 2}])\n'
    src += 'd2 = dict.insert(dict: d, key: "c", value: 3)\nd3 = dict.remove(dict: d2, key: "a")\n'
    src += 'array.from(rows: [{c_before: dict.get(dict: d, key: "c", default: 0), '
    src += 'c_after: dict.get(dict: d2, key: "c", default: 0), '
    src += 'a_removed: dict.get(dict: d3, key: "a", default: -1)}])'
    assert rows(src) == [{"c_before": 0, "c_after": 3, "a_removed": -1}]


def test_json_encode_and_parse_round_trip() -> None:
    src = 'import "array"\nimport "json"\nimport ej "experimental/json"\n'
    src += 'v = {n: 2.0, s: "x", t: 2020-01-02T03:04:05.5Z, l: [1, 2]}\n'
    src += "p = ej.parse(data: json.encode(v: {a: 1, b: [true]}))\n"
    src += "array.from(rows: [{text: string(v: json.encode(v: v)), a: p.a, b: p.b[0]}])"
    [row] = rows(src)
    assert json.loads(row["text"]) == {"n": 2, "s": "x", "t": "2020-01-02T03:04:05.5Z", "l": [1, 2]}
    assert row["text"].startswith('{"n":2,')  # Go writes an integral float without ".0"
    assert row["a"] == 1.0 and isinstance(row["a"], float)  # JSON numbers parse as floats
    assert row["b"] is True


# ---------------------------------------------------------------------- boundaries


def _bounds(now: str, call: str, location: str | None = None) -> tuple[Time, Time]:
    src = 'import "array"\nimport "timezone"\nimport "experimental/date/boundaries"\n'
    src += f"option now = () => {now}\n"
    if location:
        src += f"option location = {location}\n"
    src += f"b = boundaries.{call}\narray.from(rows: [{{start: b.start, stop: b.stop}}])"
    [row] = rows(src)
    return row["start"], row["stop"]


@pytest.mark.parametrize(
    ("now", "call", "start", "stop"),
    [
        # 2024-03-13 is a Wednesday
        ("2024-03-13T15:00:00Z", "yesterday()", "2024-03-12T00:00:00Z", "2024-03-13T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "week()", "2024-03-11T00:00:00Z", "2024-03-18T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "week(start_sunday: true)", "2024-03-10T00:00:00Z",
         "2024-03-17T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "week(week_offset: -2)", "2024-02-26T00:00:00Z",
         "2024-03-04T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "month(month_offset: -3)", "2023-12-01T00:00:00Z",
         "2024-01-01T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "tuesday()", "2024-03-12T00:00:00Z", "2024-03-13T00:00:00Z"),
        # today is Wednesday, so wednesday() is the one a week earlier
        ("2024-03-13T15:00:00Z", "wednesday()", "2024-03-06T00:00:00Z", "2024-03-07T00:00:00Z"),
        ("2024-03-13T15:00:00Z", "thursday()", "2024-03-07T00:00:00Z", "2024-03-08T00:00:00Z"),
    ],
)
def test_boundaries_in_utc(now: str, call: str, start: str, stop: str) -> None:
    assert _bounds(now, call) == (utc(start), utc(stop))


def test_boundaries_follow_the_local_calendar_across_dst() -> None:
    # New York springs forward on Sunday 2024-03-10: that day is 23 hours long.
    start, stop = _bounds(
        "2024-03-12T12:00:00Z", "sunday()", 'timezone.location(name: "America/New_York")'
    )
    assert start == utc("2024-03-10T05:00:00Z")  # midnight EST (-5)
    assert stop == utc("2024-03-11T04:00:00Z")  # midnight EDT (-4)
    start, stop = _bounds("2024-03-12T12:00:00Z", "month()", "timezone.fixed(offset: 5h30m)")
    assert (start, stop) == (utc("2024-02-29T18:30:00Z"), utc("2024-03-31T18:30:00Z"))


def test_old_boundaries_package_path_still_works() -> None:
    src = 'import "array"\nimport "date/boundaries"\noption now = () => 2024-03-13T15:00:00Z\n'
    src += "b = boundaries.yesterday()\narray.from(rows: [{s: b.start}])"
    assert rows(src) == [{"s": utc("2024-03-12T00:00:00Z")}]


# ------------------------------------------------------------------------ dynamic


def test_dynamic_json_values_convert_and_missing_members_are_null() -> None:
    src = 'import "array"\nimport "experimental/dynamic"\n'
    src += 'raw = dynamic.jsonParse(data: bytes(v: "{\\"items\\": [{\\"n\\": \\"a\\", \\"p\\": {\\"x\\": 2}}, '
    src += '{\\"n\\": \\"b\\"}]}"))\n'
    src += "rows = raw.items |> dynamic.asArray() |> array.map(fn: (x) => "
    src += "({n: string(v: x.n), x: int(v: x.p.x)}))\n"
    src += "array.from(rows: rows)"
    assert rows(src) == [{"n": "a", "x": 2}, {"n": "b", "x": None}]


def test_dynamic_json_encode_sorts_keys_and_writes_integral_numbers_plainly() -> None:
    src = 'import "array"\nimport "experimental/dynamic"\n'
    src += 'v = dynamic.jsonParse(data: bytes(v: "{\\"b\\": [1, 2.5], \\"a\\": null}"))\n'
    src += "array.from(rows: [{s: string(v: dynamic.jsonEncode(v: v)), "
    src += 'arr: dynamic.isType(v: v.b, type: "array"), obj: dynamic.isType(v: v, type: "object"), '
    src += "same: dynamic._isNotDistinct(a: dynamic.dynamic(v: 1.0), b: v.b[0])}])"
    assert rows(src) == [{"s": '{"a":null,"b":[1,2.5]}', "arr": True, "obj": True, "same": True}]


def test_dynamic_as_array_rejects_non_arrays() -> None:
    with pytest.raises(FluxError, match="unable to convert"):
        run('import "experimental/dynamic"\nx = dynamic.dynamic(v: 1) |> dynamic.asArray()')
