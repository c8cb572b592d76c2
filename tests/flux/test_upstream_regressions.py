"""Regressions found by running further test cases of the upstream Flux suite.

Each test pins one root cause on small data whose answer is worked out by hand from the
Flux documentation (not copied from the upstream cases).
"""

from __future__ import annotations

import pytest

from fluxlab.flux import run
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.table import Stream
from fluxlab.flux.values import Regex, re2_to_python

NOW = 1_893_456_000_000_000_000  # 2030-01-01T00:00:00Z


def result(program: str) -> Stream:
    return run(program, now=NOW)["_result"]


def column(stream: Stream, name: str) -> list:
    return [v for t in stream for v in t.df.get_column(name).to_list()]


def one_value(expression: str, imports: str = "") -> object:
    """Evaluate a scalar expression by wrapping it in a one-row table."""
    program = f'import "array"\n{imports}\narray.from(rows: [{{v: {expression}}}])'
    return column(result(program), "v")[0]


# ------------------------------------------------------------------ universe isType


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('isType(v: "a", type: "string")', True),
        ('isType(v: 1, type: "int")', True),
        ('isType(v: 1, type: "float")', False),
        ('isType(v: 2030-01-01T00:00:00Z, type: "time")', True),
        ('isType(v: 1h, type: "duration")', True),
        # a misspelt type name is no match, not a failed query
        ('isType(v: "a", type: "strin")', False),
    ],
)
def test_universe_is_type_needs_no_import(expression: str, expected: bool) -> None:
    assert one_value(expression) is expected


def test_types_is_type_still_rejects_unknown_type_names() -> None:
    with pytest.raises(FluxRuntimeError, match="unknown type"):
        one_value('types.isType(v: "a", type: "strin")', imports='import "types"')


# ------------------------------------------------------------------ cumulativeSum


CSV_NO_VALUE = """
import "csv"
csv.from(csv: "
#datatype,string,long,dateTime:RFC3339,string,long
#group,false,false,false,true,false
#default,_result,,,,
,result,table,_time,_measurement,count
,,0,2021-01-01T00:00:00Z,m,4
,,0,2021-01-01T00:00:10Z,m,5
")
"""


def test_cumulative_sum_passes_tables_without_the_column_through() -> None:
    out = result(CSV_NO_VALUE + "|> cumulativeSum()")
    assert column(out, "count") == [4, 5]  # untouched: there is no _value to sum


def test_cumulative_sum_sums_only_the_listed_columns_present() -> None:
    out = result(CSV_NO_VALUE + '|> cumulativeSum(columns: ["count", "missing"])')
    assert column(out, "count") == [4, 9]


# ------------------------------------------------------------------ RE2 syntax in regexp.compile


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("[[:alpha:]]{1}", "13F2", "F"),
        ("[[:digit:]]+", "ab12c", "12"),
        ("[[:upper:]][[:lower:]]+", "xxHello", "Hello"),
        ("[^[:space:]]+", "  word ", "word"),
        ("[[:xdigit:]]+", "zz0fAq", "0fA"),
        ("[[:punct:]]", "ab.c", "."),
        ("[[:^digit:]]+", "12ab3", "ab"),
    ],
)
def test_compiled_regexps_understand_posix_classes(pattern: str, text: str, found: str) -> None:
    expression = f'regexp.findString(r: regexp.compile(v: "{pattern}"), v: "{text}")'
    assert one_value(expression, imports='import "regexp"') == found


def test_compiled_regexp_keeps_its_re2_source() -> None:
    compiled = Regex.compile("[[:digit:]]\\z")
    assert compiled.source == "[[:digit:]]\\z"  # getString returns what the user wrote
    assert compiled.compiled.search("a1") and not compiled.compiled.search("1a")
    assert re2_to_python("[[:nosuch:]]") == "[[:nosuch:]]"  # unknown classes left alone


def test_regexp_functions_in_map_use_posix_classes_row_by_row() -> None:
    program = """
import "array"
import "regexp"
re = regexp.compile(v: "[[:alpha:]]")
array.from(rows: [{s: "12ab"}, {s: "x"}, {s: "99"}])
    |> map(fn: (r) => ({s: r.s, found: length(arr: regexp.findStringIndex(r: re, v: r.s)) > 0}))
"""
    assert column(result(program), "found") == [True, True, False]


# ------------------------------------------------------------------ range over keyed bounds


def test_range_over_disjoint_earlier_bounds_uses_its_own_bounds() -> None:
    program = """
import "csv"
csv.from(csv: "
#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double
#group,false,false,true,true,false,false
#default,_result,,,,,
,result,table,_start,_stop,_time,_value
,,0,2021-01-01T00:00:00Z,2021-01-01T00:01:00Z,2021-01-01T00:02:00Z,1.0
")
    |> range(start: 2021-01-01T00:01:30Z, stop: 2021-01-01T00:03:00Z)
"""
    out = result(program)
    start, stop = out.tables[0].key_values[:2]
    # the earlier [00:00, 00:01) does not overlap [00:01:30, 00:03): no empty intersection
    assert (start.isoformat(), stop.isoformat()) == (
        "2021-01-01T00:01:30+00:00",
        "2021-01-01T00:03:00+00:00",
    )


# ------------------------------------------------------------------ display layout


def test_display_spreads_more_than_three_elements_over_indented_lines() -> None:
    shown = one_value('display(v: {b: 2, a: 1, d: [1, 2, 3, 4], c: ["k": 1]})')
    # record keys sorted; a record or array of four elements goes one per line,
    # records separating with "," and arrays with ", " before each line break
    assert shown == "{\n    a: 1,\n    b: 2,\n    c: [k: 1],\n    d: [\n        1, \n        2, \n        3, \n        4\n    ]\n}"


def test_display_keeps_three_elements_on_one_line_with_sorted_keys() -> None:
    assert one_value("display(v: {c: 3, a: 1, b: 2})") == "{a: 1, b: 2, c: 3}"
    assert one_value('display(v: ["b": 1, "a": 2])') == "[a: 2, b: 1]"


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("1.5", "1.5"), ("100.0", "100"), ("123456.0", "123456"), ("1000000.0", "1e+06"),
     ("123456789.0", "1.23456789e+08"), ("0.0001", "0.0001"), ("0.00001", "1e-05")],
)
def test_display_prints_floats_like_go(literal: str, shown: str) -> None:
    assert one_value(f"display(v: {literal})") == shown
    assert one_value(f"display(v: [{literal}])") == f"[{shown}]"


def test_regex_literals_with_negated_posix_classes_match_row_by_row() -> None:
    program = """
import "array"
import "regexp"
array.from(rows: [{s: "123"}, {s: "12a"}])
    |> map(fn: (r) => ({r with other: regexp.matchRegexpString(r: /[[:^digit:]]/, v: r.s)}))
"""
    assert column(result(program), "other") == [False, True]
