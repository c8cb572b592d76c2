"""Delete-predicate parsing (InfluxDB syntax) and predicate evaluation."""

from __future__ import annotations

import pytest

from fluxlab.storage import And, Cmp, Not, Or, PredicateError, parse_delete_predicate
from fluxlab.storage.predicate import evaluate, keys_of


def test_parses_and_of_equalities() -> None:
    parsed = parse_delete_predicate('_measurement="cpu" AND host="a b" and "my tag"=x')
    assert parsed == And([Cmp("_measurement", "==", "cpu"), Cmp("host", "==", "a b"),
                          Cmp("my tag", "==", "x")])


def test_single_comparison_and_escapes() -> None:
    assert parse_delete_predicate(r'host="say \"hi\""') == Cmp("host", "==", 'say "hi"')
    assert parse_delete_predicate("host='a'") == Cmp("host", "==", "a")
    assert parse_delete_predicate("   ") is None


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('host="a" OR host="b"', "OR is not allowed", 10),
        ('host!="a"', "operator '!=' is not allowed", 5),
        ('_field="usage"', "does not support deleting by _field", 1),
        ('host="a" host="b"', "expected AND", 10),
        ('host="a" AND', "expected a comparison after AND", 12),
        ("host=", "expected a value", 5),
        ('(host="a")', "parentheses", 1),
        ('host="a', "unexpected character", 6),
    ],
)
def test_errors_name_the_position(text: str, message: str, position: int) -> None:
    with pytest.raises(PredicateError, match=message) as info:
        parse_delete_predicate(text)
    assert info.value.position is not None and info.value.position + 1 == position
    assert f"position {position}" in str(info.value)


def test_evaluate_matches_sql_semantics_for_absent_tags() -> None:
    pred = Or([Cmp("host", "==", "a"), Not(Cmp("dc", "=~", "^eu"))])
    assert evaluate(pred, {"host": "a", "dc": "eu1"})
    assert evaluate(pred, {"dc": None})  # absent dc compares as "" and does not match ^eu
    assert not evaluate(pred, {"host": "b", "dc": "eu2"})
    assert keys_of(pred) == {"host", "dc"}


def test_unknown_operator_is_refused() -> None:
    with pytest.raises(PredicateError, match="unknown operator"):
        Cmp("host", "<", "a")
