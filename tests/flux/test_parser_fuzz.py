"""Fuzzing the front end: whatever the input, `parse` returns an ast.File or raises
FluxSyntaxError — never another exception, never a hang, never a RecursionError.

Inputs: random streams of Flux token texts, conformance-vector queries with random
character/token edits, and deeply nested openers. Example counts are kept moderate so
the file runs in a few seconds; raise them with HYPOTHESIS settings when hunting bugs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxSyntaxError
from fluxlab.flux.lexer import tokenize
from fluxlab.flux.parser import parse, parse_expression
from fluxlab.flux.tokens import KEYWORDS, OPERATORS

VECTORS = Path(__file__).resolve().parent / "vectors"
SOURCES: list[str] = []
for _path in sorted(VECTORS.glob("*.json")):
    _vector = json.loads(_path.read_text(encoding="utf-8"))
    SOURCES += [_vector["setup"], _vector["got"], _vector["want"]]
    if len(_vector["preamble"]) < 3000:
        SOURCES.append(_vector["preamble"])
SOURCES = [s for s in SOURCES if s.strip()]

TOKEN_TEXTS = sorted(OPERATORS) + sorted(KEYWORDS) + [
    "a", "r", "_value", "αβ", "true", "false", "with", "tables", "fn", "f", "csv.from",
    "0", "42", "1.5", ".5", "1h", "1mo1w1d1h", "-5m", "10µs", "2018-05-22T19:53:26Z",
    "2018-05-22T19:53:26.123456789-07:00", "2018-05-22", '"s"', '"a ${b} c"', '"${ {a: 1}.a }"',
    '"\\${x}"', '"\\"q\\""', '"\\xe6\\x97\\xa5"', "/re/", "/a\\/b/", "// comment\n",
    "\n", " ", "|> f()", "(r) => r._value", "{r with x: 1}", "[:]", '["a": 1]', "(tables=<-) =>",
    '"', "${", "\\", "#", "'", "@", "9223372036854775808",
]  # fmt: skip

FUZZ = settings(
    max_examples=100,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_parse(source: str) -> None:
    """The fuzz property: a File with positioned nodes, or a positioned FluxSyntaxError
    (the same holds for `parse_expression`, which must return an Expression)."""
    for parse_fn, result_type in ((parse, ast.File), (parse_expression, ast.Expression)):
        try:
            result = parse_fn(source)
        except FluxSyntaxError as err:
            assert err.message
            if "nesting too deep" not in err.message:
                assert err.line is not None and err.line >= 1
                assert err.column is not None and err.column >= 1
            continue
        assert isinstance(result, result_type)
        for node in _walk(result):
            assert node.line >= 1 and node.column >= 1, node


def _walk(node: ast.Node):  # type: ignore[no-untyped-def]
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, list):
            stack.extend(item)


token_streams = st.lists(
    st.tuples(st.sampled_from(TOKEN_TEXTS), st.sampled_from(["", " ", "\n"])),
    max_size=40,
).map(lambda pairs: "".join(text + sep for text, sep in pairs))


@FUZZ
@given(token_streams)
def test_random_token_streams(source: str) -> None:
    check_parse(source)


@FUZZ
@given(st.text(max_size=80))
def test_arbitrary_text(source: str) -> None:
    check_parse(source)


@st.composite
def mutated_vector_queries(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        n = len(source)
        i = draw(st.integers(0, n))
        j = min(n, i + draw(st.integers(0, 12)))
        op = draw(st.sampled_from(["delete", "insert", "insert_token", "duplicate", "swap"]))
        if op == "delete":
            source = source[:i] + source[j:]
        elif op == "insert":
            source = source[:i] + draw(st.text(min_size=1, max_size=3)) + source[i:]
        elif op == "insert_token":
            source = source[:i] + draw(st.sampled_from(TOKEN_TEXTS)) + source[i:]
        elif op == "duplicate":
            source = source[:j] + source[i:j] + source[j:]
        elif n >= 2:
            k = draw(st.integers(0, n - 1))
            a, b = sorted((min(i, n - 1), k))
            chars = list(source)
            chars[a], chars[b] = chars[b], chars[a]
            source = "".join(chars)
    return source


@FUZZ
@given(mutated_vector_queries())
def test_mutated_vector_queries(source: str) -> None:
    check_parse(source)


@st.composite
def token_level_mutations(draw: st.DrawFn) -> str:
    """Drop, repeat or swap whole tokens of a vector query, keeping the rest intact."""
    source = draw(st.sampled_from(SOURCES))
    spans = [(t.start, t.end) for t in tokenize(source)[:-1]]
    if not spans:
        return source
    pieces = [source[a:b] for a, b in spans]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(pieces) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap"]))
        if op == "drop" and len(pieces) > 1:
            del pieces[i]
        elif op == "repeat":
            pieces.insert(i, pieces[i])
        else:
            k = draw(st.integers(0, len(pieces) - 1))
            pieces[i], pieces[k] = pieces[k], pieces[i]
    return " ".join(pieces)


@FUZZ
@given(token_level_mutations())
def test_token_level_mutations(source: str) -> None:
    check_parse(source)


@settings(max_examples=30, deadline=2000)
@given(
    st.lists(st.sampled_from(["(", "[", "{a: ", "f(x: ", "-", "not ", "if a then ", '"${', "() => "]),
             min_size=50, max_size=400),
    st.booleans(),
)  # fmt: skip
def test_deep_nesting_never_overflows_the_stack(openers: list[str], closed: bool) -> None:
    source = "x = " + "".join(openers) + "1"
    if closed:
        closers = {"(": ")", "[": "]", "{a: ": "}", "f(x: ": ")", '"${': '}"', "if a then ": " else b"}
        source += "".join(closers.get(o, "") for o in reversed(openers))
    check_parse(source)


def test_unmutated_sources_parse() -> None:
    for source in SOURCES:
        assert isinstance(parse(source), ast.File)
