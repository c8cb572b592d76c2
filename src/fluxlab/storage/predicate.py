"""Row predicates on series keys, their SQL form and InfluxDB's delete-predicate parser.

A predicate talks about `_measurement`, `_field` and tag keys only: that is what the
store can push into SQL. Regex values use RE2 syntax, which is what DuckDB's
`regexp_matches` implements, so Flux regexes pass through unchanged.

An absent tag compares as the empty string, as in InfluxDB's storage engine:
`host == ""` matches series without a host tag and `host != "a"` matches them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from fluxlab.storage.errors import PredicateError

OPERATORS = ("==", "!=", "=~", "!~")


@dataclass(frozen=True)
class Cmp:
    """`key op value`; for =~ and !~ the value is an RE2 regular expression."""

    key: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise PredicateError(f"unknown operator {self.op!r}; use one of {OPERATORS}")


@dataclass(frozen=True)
class And:
    items: tuple[Predicate, ...]

    def __init__(self, items: list[Predicate] | tuple[Predicate, ...]) -> None:
        object.__setattr__(self, "items", tuple(items))


@dataclass(frozen=True)
class Or:
    items: tuple[Predicate, ...]

    def __init__(self, items: list[Predicate] | tuple[Predicate, ...]) -> None:
        object.__setattr__(self, "items", tuple(items))


@dataclass(frozen=True)
class Not:
    item: Predicate


Predicate = Cmp | And | Or | Not


def keys_of(predicate: Predicate | None) -> set[str]:
    """Every key a predicate mentions (used to reject `_field` in deletes)."""
    if predicate is None:
        return set()
    if isinstance(predicate, Cmp):
        return {predicate.key}
    if isinstance(predicate, Not):
        return keys_of(predicate.item)
    return set().union(*(keys_of(item) for item in predicate.items))


def sql_string(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def to_sql(predicate: Predicate | None, resolve: Callable[[str], str | None]) -> str:
    """SQL boolean (never NULL) for a predicate.

    `resolve(key)` gives the SQL expression of a key: a column, a literal (for
    `_measurement`/`_field` inside one branch of a scan) or None when the key does not
    exist in the table (then it compares as "").
    """
    if predicate is None:
        return "TRUE"
    if isinstance(predicate, Cmp):
        return _cmp_sql(predicate, resolve)
    if isinstance(predicate, Not):
        return f"(NOT {to_sql(predicate.item, resolve)})"
    if not predicate.items:
        return "TRUE" if isinstance(predicate, And) else "FALSE"
    joiner = " AND " if isinstance(predicate, And) else " OR "
    return "(" + joiner.join(to_sql(item, resolve) for item in predicate.items) + ")"


def _cmp_sql(cmp: Cmp, resolve: Callable[[str], str | None]) -> str:
    expr = resolve(cmp.key)
    subject = "''" if expr is None else f"coalesce({expr}, '')"
    value = sql_string(cmp.value)
    if cmp.op == "==":
        return f"({subject} = {value})"
    if cmp.op == "!=":
        return f"({subject} <> {value})"
    matches = f"regexp_matches({subject}, {value})"
    return f"({matches})" if cmp.op == "=~" else f"(NOT {matches})"


def evaluate(predicate: Predicate | None, values: dict[str, str | None]) -> bool:
    """Evaluate a predicate on one series in Python (catalog-level pruning, tests)."""
    if predicate is None:
        return True
    if isinstance(predicate, Cmp):
        subject = values.get(predicate.key) or ""
        if predicate.op == "==":
            return subject == predicate.value
        if predicate.op == "!=":
            return subject != predicate.value
        found = re.search(predicate.value, subject) is not None
        return found if predicate.op == "=~" else not found
    if isinstance(predicate, Not):
        return not evaluate(predicate.item, values)
    results = (evaluate(item, values) for item in predicate.items)
    return all(results) if isinstance(predicate, And) else any(results)


# --- InfluxDB delete predicate syntax: key="value" [AND key="value" ...] -----------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<dquoted>"(?:[^"\\]|\\.)*")
  | (?P<squoted>'(?:[^'\\]|\\.)*')
  | (?P<op>!=|=~|!~|==|=|<>|<=|>=|<|>)
  | (?P<paren>[()])
  | (?P<word>[^\s"'=!<>()~]+)
    """,
    re.VERBOSE,
)


def parse_delete_predicate(text: str) -> Predicate | None:
    """Parse InfluxDB's delete predicate (`_measurement="cpu" AND host="a"`).

    InfluxDB allows only `=` and `AND`, and not `_field`, `_time` or `_value`; anything
    else is rejected with the position of the offending token. Empty text means "all".
    """
    tokens = _tokenize(text)
    if not tokens:
        return None
    items: list[Predicate] = []
    i = 0
    while True:
        items.append(_parse_comparison(tokens, i, text))
        i += 3
        if i >= len(tokens):
            break
        kind, value, pos = tokens[i]
        if kind == "word" and value.upper() == "AND":
            i += 1
            if i >= len(tokens):
                raise PredicateError("expected a comparison after AND", text, len(text) - 1)
            continue
        if kind == "word" and value.upper() == "OR":
            raise PredicateError(
                "OR is not allowed in delete predicates (InfluxDB supports only AND); "
                "run one delete per alternative",
                text,
                pos,
            )
        raise PredicateError(f"expected AND, found {value!r}", text, pos)
    return items[0] if len(items) == 1 else And(items)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise PredicateError(f"unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    return tokens


def _parse_comparison(tokens: list[tuple[str, str, int]], i: int, text: str) -> Cmp:
    if i >= len(tokens):
        raise PredicateError("expected a comparison key=\"value\"", text, len(text) - 1)
    kind, raw_key, pos = tokens[i]
    if kind == "paren":
        raise PredicateError("parentheses are not allowed in delete predicates", text, pos)
    if kind not in ("word", "dquoted"):
        raise PredicateError(f"expected a column name, found {raw_key!r}", text, pos)
    key = _unquote(raw_key) if kind == "dquoted" else raw_key
    if key in ("_field", "_time", "_value"):
        raise PredicateError(
            f"InfluxDB does not support deleting by {key}; delete by measurement and tags "
            "(every field of the matching series is deleted)",
            text,
            pos,
        )
    if i + 1 >= len(tokens) or tokens[i + 1][0] != "op":
        where = tokens[i + 1][2] if i + 1 < len(tokens) else len(text) - 1
        raise PredicateError(f"expected = after {key!r}", text, where)
    _, op, op_pos = tokens[i + 1]
    if op != "=":
        raise PredicateError(
            f"operator {op!r} is not allowed in delete predicates (only = is)", text, op_pos
        )
    if i + 2 >= len(tokens):
        raise PredicateError(f"expected a value after {key}=", text, len(text) - 1)
    vkind, raw_value, vpos = tokens[i + 2]
    if vkind not in ("word", "dquoted", "squoted"):
        raise PredicateError(f"expected a value, found {raw_value!r}", text, vpos)
    value = raw_value if vkind == "word" else _unquote(raw_value)
    return Cmp(key, "==", value)


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])
