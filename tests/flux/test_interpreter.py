"""Flux language semantics of the interpreter: scopes, functions, operators, errors."""

from __future__ import annotations

from typing import Any

import pytest

from fluxlab.flux import run
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError, UnsupportedError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.values import Dictionary, Duration, Time, Unsigned

NOW = Time(1_893_456_000_000_000_000)  # 2030-01-01T00:00:00Z


def evaluate(source: str, name: str = "x", **context: Any) -> Any:
    """Run a program and return the value bound to `name`."""
    interp = Interpreter(Context(now=NOW, **context))
    interp.run(parse(source))
    found, value = interp.globals.lookup(name)
    assert found, f"{name} not defined"
    return value


# ----------------------------------------------------------------------------- scopes and functions


def test_closures_capture_their_defining_scope() -> None:
    src = """
    make = (n) => (x) => x + n
    add2 = make(n: 2)
    n = 100
    x = add2(x: 5)
    """
    assert evaluate(src) == 7


def test_block_bodies_defaults_and_shadowing() -> None:
    src = """
    a = 1
    f = (b, c=10) => {
        a = 5
        return a + b + c
    }
    x = [f(b: 1), f(b: 1, c: 0), a]
    """
    assert evaluate(src) == [16, 6, 1]


def test_pipe_forward_binds_the_pipe_parameter() -> None:
    src = """
    double = (v=<-) => v * 2
    x = 21 |> double()
    """
    assert evaluate(src) == 42


def test_missing_and_unknown_arguments_name_function_and_argument() -> None:
    with pytest.raises(FluxRuntimeError, match="missing required argument 'b' in call to f"):
        evaluate("f = (a, b) => a\nx = f(a: 1)")
    with pytest.raises(FluxRuntimeError, match="function f has no parameter 'z'"):
        evaluate("f = (a) => a\nx = f(a: 1, z: 2)")
    with pytest.raises(FluxRuntimeError, match="missing required argument 'v' in call to int"):
        evaluate("x = int()")


def test_records_arrays_dictionaries_and_member_access() -> None:
    src = """
    r = {a: 1, b: {c: "deep"}}
    s = {r with a: 2, d: true}
    arr = [10, 20, 30]
    d = ["k": 1, "j": 2]
    x = [s.a, s.b.c, r["a"], arr[2], s.d, r.missing]
    """
    assert evaluate(src) == [2, "deep", 1, 30, True, None]
    assert evaluate('d = ["k": 1]\nx = d', name="x") == Dictionary({"k": 1})


def test_array_index_out_of_bounds_is_an_error() -> None:
    with pytest.raises(FluxRuntimeError, match="out of bounds"):
        evaluate("a = [1]\nx = a[3]")


# ----------------------------------------------------------------------------- operators


def test_string_interpolation_and_conditionals() -> None:
    src = """
    n = 3
    x = "n=${n} big=${if n > 2 then "yes" else "no"} f=${1.5} t=${2020-01-01T00:00:00Z}"
    """
    assert evaluate(src) == "n=3 big=yes f=1.5 t=2020-01-01T00:00:00.000000000Z"


def test_type_error_carries_position() -> None:
    with pytest.raises(FluxTypeError) as info:
        evaluate('a = 1\nx = "a" + 1')
    assert info.value.line == 2
    assert info.value.column is not None and info.value.column >= 5
    assert "string and int" in str(info.value)


def test_integer_division_truncates_and_errors_like_flux() -> None:
    assert evaluate("x = [7 / 2, -7 / 2, 7 % 3, -7 % 3]") == [3, -3, 1, -1]
    with pytest.raises(FluxRuntimeError, match="divide by zero"):
        evaluate("x = 1 / 0")
    with pytest.raises(FluxRuntimeError, match="overflow"):
        evaluate("x = 9223372036854775807 + 1")
    assert evaluate("x = 1.0 / 0.0") == float("inf")


def test_null_semantics_of_logic_and_comparison() -> None:
    src = """
    import "internal/debug"
    n = debug.null(type: "bool")
    r = {}
    x = [
        r.v == 1,
        n or true,
        n and false,
        exists r.v,
        exists 1,
        not (n or false) == true,
    ]
    """
    value = evaluate(src)
    assert value[0] is None
    assert value[1] is True and value[2] is False
    assert value[3] is False and value[4] is True


def test_regex_matching() -> None:
    assert evaluate('x = ["cpu-total" =~ /^cpu-\\w+$/, "mem" !~ /cpu/]') == [True, True]


def test_calendar_month_arithmetic_clamps_the_day() -> None:
    src = """
    x = [
        2021-01-31T00:00:00Z + 1mo,
        2020-02-29T12:00:00Z + 1y,
        2021-03-31T00:00:00Z - 1mo,
        2021-01-01T00:00:00Z + 1d12h,
    ]
    """
    got = evaluate(src)
    from fluxlab.flux.stdlib.conversions import format_time

    assert [format_time(t) for t in got] == [
        "2021-02-28T00:00:00Z",
        "2021-02-28T12:00:00Z",
        "2021-02-28T00:00:00Z",
        "2021-01-02T12:00:00Z",
    ]


def test_duration_and_uint_values() -> None:
    assert evaluate("x = 1h30m") == Duration(0, 5_400_000_000_000, False)
    assert evaluate("x = -1mo") == Duration(1, 0, True)
    assert evaluate('x = uint(v: "18446744073709551615")') == Unsigned(2**64 - 1)


# ----------------------------------------------------------------------------- options and programs


def test_option_now_drives_now_and_relative_range() -> None:
    src = """
    option now = () => 2021-06-01T00:00:00Z
    x = now()
    """
    assert evaluate(src) == Time(1_622_505_600_000_000_000)


def test_package_option_and_externs() -> None:
    src = 'import "testing"\noption testing.tags = ["a"]\nx = v.timeRangeStart'
    start = Time(5)
    assert evaluate(src, options={"v": {"timeRangeStart": start}}) == start


def test_unknown_package_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedError, match='unsupported package "nope/pkg"'):
        evaluate('import "nope/pkg"\nx = 1')


def test_undefined_identifier_names_it() -> None:
    with pytest.raises(FluxRuntimeError, match="undefined identifier foo") as info:
        evaluate("x = foo + 1")
    assert info.value.line == 1


def test_runaway_recursion_is_stopped() -> None:
    with pytest.raises(FluxRuntimeError, match="recursion limit|too deep"):
        evaluate("f = (n) => f(n: n + 1)\nx = f(n: 0)")


def test_time_limit_is_enforced() -> None:
    src = """
    f = (n) => if n == 0 then 0 else f(n: n - 1) + f(n: n - 1)
    x = f(n: 40)
    """
    with pytest.raises(FluxRuntimeError, match="time limit"):
        evaluate(src, timeout_s=0.2)


def test_results_are_named_by_yield_or_default() -> None:
    src = """
    import "array"
    data = array.from(rows: [{a: 1}])
    data |> yield(name: "first")
    data
    """
    results = run(src, now=NOW)
    assert list(results) == ["first", "_result"]
    assert results["_result"].tables[0].df.get_column("a").to_list() == [1]
