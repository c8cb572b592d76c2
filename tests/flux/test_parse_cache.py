"""Programs are parsed once per text (flux.parsed): re-running must give the same results,
since evaluation never changes the syntax tree."""

from __future__ import annotations

import pytest

from fluxlab import flux
from fluxlab.flux.errors import FluxSyntaxError

PROGRAM = """
import "array"
f = (x) => x * 2
array.from(rows: [{_value: 1}, {_value: 2}, {_value: 3}])
    |> map(fn: (r) => ({r with _value: f(x: r._value)}))
    |> filter(fn: (r) => r._value > 2)
    |> sum()
"""


def _values(text: str) -> list[tuple[object, ...]]:
    return [row for t in flux.run(text)["_result"] for row in t.df.rows()]


def test_the_same_text_is_parsed_once_and_reruns_identically() -> None:
    assert flux.parsed(PROGRAM) is flux.parsed(PROGRAM)
    first = _values(PROGRAM)
    assert first == [(10,)]
    assert _values(PROGRAM) == first


def test_a_syntax_error_is_raised_on_every_run() -> None:
    for _ in range(2):
        with pytest.raises(FluxSyntaxError):
            flux.run("from(bucket: ")
