"""Tokenizer tests: every lexical element of the Flux SPEC, values, positions, errors."""

from __future__ import annotations

import pytest

from fluxlab.flux.errors import FluxSyntaxError
from fluxlab.flux.lexer import tokenize
from fluxlab.flux.tokens import Token, TokenType

T = TokenType


def kinds(source: str) -> list[TokenType]:
    return [tok.kind for tok in tokenize(source)[:-1]]


def single(source: str) -> Token:
    toks = tokenize(source)
    assert len(toks) == 2, toks
    assert toks[-1].kind is T.EOF
    return toks[0]


# ---------------------------------------------------------------------- operators, words


def test_every_operator_is_one_token() -> None:
    # `/` right after an operator would start a regexp, so an operand precedes it here
    source = "+ - * x / % ^ == != < <= > >= =~ !~ = => <- |> . , : ( ) [ ] { } ?"
    expected = [
        T.ADD, T.SUB, T.MUL, T.IDENT, T.DIV, T.MOD, T.POW, T.EQ, T.NEQ, T.LT, T.LTE, T.GT, T.GTE,
        T.REGEXEQ, T.REGEXNEQ, T.ASSIGN, T.ARROW, T.PIPE_RECEIVE, T.PIPE_FORWARD, T.DOT,
        T.COMMA, T.COLON, T.LPAREN, T.RPAREN, T.LBRACK, T.RBRACK, T.LBRACE, T.RBRACE,
        T.QUESTION,
    ]  # fmt: skip
    assert kinds(source) == expected


def test_longest_operator_wins_without_spaces() -> None:
    assert kinds("a<=b>=c==d!=e=~f!~g|>h()") == [
        T.IDENT, T.LTE, T.IDENT, T.GTE, T.IDENT, T.EQ, T.IDENT, T.NEQ, T.IDENT,
        T.REGEXEQ, T.IDENT, T.REGEXNEQ, T.IDENT, T.PIPE_FORWARD, T.IDENT, T.LPAREN, T.RPAREN,
    ]  # fmt: skip
    assert kinds("(t=<-)=>t") == [
        T.LPAREN, T.IDENT, T.ASSIGN, T.PIPE_RECEIVE, T.RPAREN, T.ARROW, T.IDENT
    ]


@pytest.mark.parametrize(
    "word",
    ["and", "or", "not", "empty", "in", "import", "package", "return", "option", "builtin",
     "testcase", "extends", "if", "then", "else", "exists"],
)  # fmt: skip
def test_keywords(word: str) -> None:
    tok = single(word)
    assert tok.kind.value == word
    assert tok.kind is not T.IDENT


@pytest.mark.parametrize("name", ["a", "_x", "longIdentifierName", "αβ", "x1_2", "true", "with"])
def test_identifiers(name: str) -> None:
    tok = single(name)
    assert (tok.kind, tok.text) == (T.IDENT, name)


def test_identifier_stops_at_non_decimal_numeric() -> None:
    # `²` is a numeric character but not a Flux letter or decimal digit.
    with pytest.raises(FluxSyntaxError, match="unexpected character"):
        tokenize("x²")


def test_keyword_prefix_is_identifier() -> None:
    assert [t.text for t in tokenize("android orx notable")[:-1]] == ["android", "orx", "notable"]
    assert kinds("android orx notable") == [T.IDENT] * 3


# ---------------------------------------------------------------------- numbers, durations


@pytest.mark.parametrize(
    ("source", "kind", "value"),
    [
        ("0", T.INT, 0),
        ("42", T.INT, 42),
        ("9223372036854775807", T.INT, 2**63 - 1),
        ("72.40", T.FLOAT, 72.4),
        ("072.40", T.FLOAT, 72.4),
        ("0.", T.FLOAT, 0.0),
        (".26", T.FLOAT, 0.26),
        ("2.71828", T.FLOAT, 2.71828),
    ],
)
def test_numbers(source: str, kind: TokenType, value: object) -> None:
    tok = single(source)
    assert (tok.kind, tok.value) == (kind, value)


def test_integer_out_of_range() -> None:
    with pytest.raises(FluxSyntaxError, match="out of range"):
        tokenize("9223372036854775808")


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("1s", [(1, "s")]),
        ("10d", [(10, "d")]),
        ("1h15m", [(1, "h"), (15, "m")]),
        ("1mo1w1d1h", [(1, "mo"), (1, "w"), (1, "d"), (1, "h")]),
        ("1y2mo3w4d5h6m7s8ms9us10µs11ns", [
            (1, "y"), (2, "mo"), (3, "w"), (4, "d"), (5, "h"), (6, "m"), (7, "s"),
            (8, "ms"), (9, "us"), (10, "µs"), (11, "ns"),
        ]),
        ("3μs", [(3, "µs")]),  # Greek mu is accepted and normalised to the micro sign
    ],
)  # fmt: skip
def test_durations(source: str, parts: list[tuple[int, str]]) -> None:
    tok = single(source)
    assert (tok.kind, tok.value) == (T.DURATION, parts)


def test_negative_duration_is_minus_then_duration() -> None:
    toks = tokenize("-1h")
    assert [t.kind for t in toks[:-1]] == [T.SUB, T.DURATION]


@pytest.mark.parametrize("source", ["1x", "1hx", "1.5h", "12abc", "2018-05-22T10"])
def test_number_glued_to_letters_is_an_error(source: str) -> None:
    with pytest.raises(FluxSyntaxError, match="invalid .* literal") as err:
        tokenize(source)
    assert (err.value.line, err.value.column) == (1, 1)


# ---------------------------------------------------------------------- date/time


@pytest.mark.parametrize(
    ("source", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2018-05-22T19:53:26Z", 1527018806 * 10**9),
        ("2018-05-22", 1526947200 * 10**9),
        ("2018-05-22T19:53:26.5Z", 1527018806 * 10**9 + 500_000_000),
        ("2018-05-22T19:53:26.000000001Z", 1527018806 * 10**9 + 1),
        ("2018-05-22T19:53:26.123456789Z", 1527018806_123456789),
        ("2018-05-22T19:53:26.1234567891Z", 1527018806_123456789),  # beyond ns: truncated
        ("2018-08-15T13:36:23-07:00", (1534340183 + 7 * 3600) * 10**9),
        ("2018-05-22T19:53:26.123456789+01:30", 1527018806_123456789 - 5400 * 10**9),
        ("1969-12-31T23:59:59.999999999Z", -1),
        ("2000-02-29T00:00:00Z", 951782400 * 10**9),
        ("2262-04-11T23:47:16.854775807Z", 2**63 - 1),
        ("2009-10-15T09:00:00", 1255597200 * 10**9),  # no offset: taken as UTC
    ],
)
def test_datetime_values_are_exact_nanoseconds(source: str, ns: int) -> None:
    tok = single(source)
    assert tok.kind is T.TIME
    assert tok.value == (ns, source)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("2018-13-01", "invalid month"),
        ("2018-02-29", "invalid day"),
        ("2018-04-31T00:00:00Z", "invalid day"),
        ("2018-01-01T24:00:00Z", "invalid time of day"),
        ("2018-01-01T23:60:00Z", "invalid time of day"),
        ("2018-01-01T00:00:00+24:00", "invalid UTC offset"),
    ],
)
def test_invalid_datetimes(source: str, problem: str) -> None:
    with pytest.raises(FluxSyntaxError, match=problem):
        tokenize(f"x = {source}")


# ---------------------------------------------------------------------- strings


def text_of(tok: Token) -> str:
    assert all(part.tokens is None for part in tok.value)
    return "".join(part.text or "" for part in tok.value)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('"abc"', "abc"),
        ('""', ""),
        (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
        (r'"q\"q"', 'q"q'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\${not interpolated}"', "${not interpolated}"),
        ('"cost $5 {x}"', "cost $5 {x}"),
        ('"日本語"', "日本語"),
        (r'"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"', "日本語"),
        ('"multi\nline"', "multi\nline"),
    ],
)
def test_string_literals(source: str, value: str) -> None:
    tok = single(source)
    assert tok.kind is T.STRING
    assert text_of(tok) == value


def test_string_interpolation_parts() -> None:
    tok = single('"a ${x + 1} b ${y}"')
    parts = tok.value
    assert [p.text for p in parts] == ["a ", None, " b ", None]
    assert [t.kind for t in parts[1].tokens] == [T.IDENT, T.ADD, T.INT, T.EOF]
    assert (parts[1].line, parts[1].column) == (1, 4)
    assert parts[3].tokens[0].text == "y"
    # the terminator of an interpolation is an EOF token placed on its `}`
    assert parts[3].tokens[-1].describe() == '"}"'


def test_interpolation_with_nested_braces_and_strings() -> None:
    tok = single('"v=${ {a: "}", b: "${c}"}.a } end"')
    inner = tok.value[1].tokens
    assert [t.kind for t in inner[:-1]] == [
        T.LBRACE, T.IDENT, T.COLON, T.STRING, T.COMMA, T.IDENT, T.COLON, T.STRING,
        T.RBRACE, T.DOT, T.IDENT,
    ]  # fmt: skip
    assert text_of(inner[3]) == "}"
    nested = inner[7].value[0].tokens
    assert nested[0].text == "c"
    assert tok.value[-1].text == " end"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('"abc', "unterminated string"),
        ('"a ${b', "unterminated string interpolation"),
        (r'"\q"', "invalid escape"),
        (r'"\xff"', "invalid UTF-8"),
    ],
)
def test_string_errors(source: str, message: str) -> None:
    with pytest.raises(FluxSyntaxError, match=message):
        tokenize(source)


def test_interpolation_nesting_is_bounded() -> None:
    deep = '"${' * 200 + "1" + '}"' * 200
    with pytest.raises(FluxSyntaxError, match="nesting too deep"):
        tokenize(deep)


# ---------------------------------------------------------------------- regexps, division


def test_regex_after_operator_and_division_after_operand() -> None:
    toks = tokenize(r"r.host =~ /^a\/b\d+$/ and x / 2 / y == 1")
    assert [t.kind for t in toks[:-1]] == [
        T.IDENT, T.DOT, T.IDENT, T.REGEXEQ, T.REGEX, T.AND, T.IDENT, T.DIV, T.INT, T.DIV,
        T.IDENT, T.EQ, T.INT,
    ]  # fmt: skip
    assert toks[4].value == r"^a/b\d+$"


@pytest.mark.parametrize(
    ("source", "kinds_"),
    [
        ("f(x) / 2", [T.IDENT, T.LPAREN, T.IDENT, T.RPAREN, T.DIV, T.INT]),
        ("a[0] / 2", [T.IDENT, T.LBRACK, T.INT, T.RBRACK, T.DIV, T.INT]),
        ("1h / 2", [T.DURATION, T.DIV, T.INT]),
        ("[/a/, /b/]", [T.LBRACK, T.REGEX, T.COMMA, T.REGEX, T.RBRACK]),
        ("f(re: /x/)", [T.IDENT, T.LPAREN, T.IDENT, T.COLON, T.REGEX, T.RPAREN]),
        ("return /x/", [T.RETURN, T.REGEX]),
    ],
)
def test_regex_or_division_by_previous_token(source: str, kinds_: list[TokenType]) -> None:
    assert kinds(source) == kinds_


def test_regex_keeps_other_escapes_for_re2() -> None:
    assert single(r"/\\x\.\//").value == r"\\x\./"


def test_unterminated_regex() -> None:
    with pytest.raises(FluxSyntaxError, match="unterminated regular expression"):
        tokenize("x =~ /abc\n/")


# ---------------------------------------------------------------------- comments, positions


def test_comments_are_skipped() -> None:
    toks = tokenize("a // comment / \"not a string\n// whole line\nb")
    assert [t.text for t in toks[:-1]] == ["a", "b"]
    assert (toks[1].line, toks[1].column) == (3, 1)


def test_positions_are_one_based_code_points() -> None:
    toks = tokenize('x = "日本"\n  |> f(a: 1)')
    pos = [(t.text, t.line, t.column) for t in toks]
    assert pos[:4] == [("x", 1, 1), ("=", 1, 3), ('"日本"', 1, 5), ("|>", 2, 3)]
    assert pos[-1] == ("", 2, 13)  # EOF
    assert toks[2].start == 4 and toks[2].end == 8


def test_unexpected_character_position() -> None:
    with pytest.raises(FluxSyntaxError) as err:
        tokenize("a = 1\nb = 2 # 3")
    assert (err.value.line, err.value.column) == (2, 7)
    assert str(err.value) == "error at 2:7: unexpected character '#'"


def test_empty_source_is_just_eof() -> None:
    assert kinds("") == []
    assert kinds("  // only a comment\n") == []
