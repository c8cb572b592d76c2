"""The Flux tokenizer: source text -> list of Tokens, ending with an EOF token.

Follows the lexical elements of the Flux SPEC. Two places need context:
- `/` starts a regexp literal unless the previous token ends an operand (then it is
  division), the same rule Flux's own scanner applies via its parser;
- `"...${expr}..."` strings: the interpolated expression is tokenized recursively, so
  nested braces and strings inside `${}` work; its tokens end with an EOF token placed
  on the closing `}`.
Runs of plain characters are consumed with compiled regexes, never char by char, so
large annotated-CSV string literals lex in microseconds.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from fluxlab.flux.errors import FluxSyntaxError
from fluxlab.flux.tokens import KEYWORDS, OPERAND_END, OPERATORS, StringPart, Token, TokenType

MAX_NESTING = 64
"""Deepest `${...}` nesting accepted; deeper input is a syntax error, not a RecursionError."""

_SKIP = re.compile(r"(?:[ \t\r\n]+|//[^\n]*)+")
_IDENT = re.compile(r"[^\W\d]\w*")
_WORD_CHAR = re.compile(r"\w")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))?)?"
)
_UNITS = r"(?:mo|ms|us|µs|μs|ns|y|w|d|h|m|s)"
_DURATION = re.compile(rf"(?:[0-9]+{_UNITS})+")
_DURATION_PART = re.compile(rf"([0-9]+)({_UNITS})")
_FLOAT = re.compile(r"[0-9]+\.[0-9]*|\.[0-9]+")
_INT = re.compile(r"[0-9]+")
_OPERATOR = re.compile("|".join(re.escape(op) for op in sorted(OPERATORS, key=len, reverse=True)))
_STRING_TEXT = re.compile(r'[^"\\$]+')
_REGEX_TEXT = re.compile(r"[^/\\\n]+")
_HEX2 = re.compile(r"[0-9a-fA-F]{2}")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NS = 1_000_000_000


def tokenize(source: str) -> list[Token]:
    """Split Flux source into tokens; raises FluxSyntaxError on an invalid lexeme."""
    return _Lexer(source).tokens()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    # ------------------------------------------------------------------ positions

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count code points."""
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def error(self, message: str, offset: int) -> FluxSyntaxError:
        return FluxSyntaxError(message, *self.position(offset))

    def make(self, kind: TokenType, start: int, end: int, value: object = None) -> Token:
        line, column = self.position(start)
        return Token(kind, self.src[start:end], line, column, start, end, value)

    # ------------------------------------------------------------------ token stream

    def tokens(self) -> list[Token]:
        toks, _ = self.scan(0, depth=0)
        return toks

    def scan(self, pos: int, depth: int) -> tuple[list[Token], int]:
        """Tokens from `pos` to the end (depth 0) or to the `}` closing a `${` (depth > 0).

        Returns the tokens (ending with EOF) and the offset just after what was consumed.
        """
        src, n = self.src, len(self.src)
        toks: list[Token] = []
        braces = 0
        while True:
            m = _SKIP.match(src, pos)
            if m:
                pos = m.end()
            if pos >= n:
                if depth:
                    raise self.error('unterminated string interpolation: expected "}"', pos)
                toks.append(self.make(TokenType.EOF, pos, pos))
                return toks, pos
            c = src[pos]
            if depth and c == "}" and braces == 0:
                toks.append(self.make(TokenType.EOF, pos, pos + 1))
                return toks, pos + 1
            prev = toks[-1].kind if toks else None
            if c == '"':
                tok = self.string(pos, depth)
            elif "0" <= c <= "9" or (c == "." and prev not in OPERAND_END and _FLOAT.match(src, pos)):
                tok = self.number(pos)
            elif c == "/" and prev not in OPERAND_END:
                tok = self.regex(pos)
            elif (m := _IDENT.match(src, pos)) is not None:
                tok = self.word(pos, m.end())
            elif (m := _OPERATOR.match(src, pos)) is not None:
                tok = self.make(OPERATORS[m.group()], pos, m.end())
                if c == "{":
                    braces += 1
                elif c == "}":
                    braces -= 1
            else:
                raise self.error(f"unexpected character {c!r}", pos)
            toks.append(tok)
            pos = tok.end

    # ------------------------------------------------------------------ words, numbers

    def word(self, start: int, end: int) -> Token:
        text = self.src[start:end]
        if not text.isascii():
            # \w also admits non-decimal numerics (e.g. superscripts); Flux allows only
            # letters, `_` and decimal digits, so stop at the first other character.
            for i, ch in enumerate(text):
                if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                    if i == 0:
                        raise self.error(f"unexpected character {ch!r}", start)
                    end = start + i
                    text = text[:i]
                    break
        return self.make(KEYWORDS.get(text, TokenType.IDENT), start, end)

    def number(self, start: int) -> Token:
        src = self.src
        if m := _DATETIME.match(src, start):
            tok = self.make(TokenType.TIME, start, m.end(), (self.datetime_ns(m), m.group()))
            what = "date/time"
        elif m := _DURATION.match(src, start):
            parts = [
                (int(num), "µs" if unit == "μs" else unit)
                for num, unit in _DURATION_PART.findall(m.group())
            ]
            tok = self.make(TokenType.DURATION, start, m.end(), parts)
            what = "duration"
        elif m := _FLOAT.match(src, start):
            tok = self.make(TokenType.FLOAT, start, m.end(), float(m.group()))
            what = "float"
        else:
            m = _INT.match(src, start)
            assert m is not None
            value = int(m.group())
            if value > 2**63 - 1:
                raise self.error(f"integer literal {m.group()} out of range (max 2^63-1)", start)
            tok = self.make(TokenType.INT, start, m.end(), value)
            what = "number"
        if _WORD_CHAR.match(src, tok.end):
            bad = _IDENT.match(src, tok.end) or _WORD_CHAR.match(src, tok.end)
            assert bad is not None
            raise self.error(
                f"invalid {what} literal {src[start : bad.end()]!r}", start
            )
        return tok

    def datetime_ns(self, m: re.Match[str]) -> int:
        """Nanoseconds since the epoch (UTC) of an RFC3339 literal, exactly, in integers."""
        year, month, day = int(m[1]), int(m[2]), int(m[3])
        hour = int(m[4] or 0)
        minute = int(m[5] or 0)
        second = int(m[6] or 0)
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if not 1 <= month <= 12:
            raise self.error(f"invalid month {m[2]} in time literal {m.group()}", m.start())
        days_in_month = 29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1]
        if not 1 <= day <= days_in_month:
            raise self.error(f"invalid day {m[3]} in time literal {m.group()}", m.start())
        if hour > 23 or minute > 59 or second > 59:
            raise self.error(f"invalid time of day in time literal {m.group()}", m.start())
        fraction = (m[7] or "")[:9].ljust(9, "0")
        offset = 0
        if m[9]:
            off_h, off_m = int(m[10]), int(m[11])
            if off_h > 23 or off_m > 59:
                raise self.error(f"invalid UTC offset in time literal {m.group()}", m.start())
            offset = (off_h * 3600 + off_m * 60) * (1 if m[9] == "+" else -1)
        seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
        return (seconds - offset) * _NS + int(fraction)

    # ------------------------------------------------------------------ strings, regexps

    def string(self, start: int, depth: int) -> Token:
        """A string literal; its value is a list of StringParts (text and `${}` tokens)."""
        src, n = self.src, len(self.src)
        parts: list[StringPart] = []
        text: list[str] = []
        raw_bytes = bytearray()
        pos = start + 1
        text_start = pos  # where the pending text run begins, for its TextPart position

        def text_part() -> StringPart:
            line, column = self.position(text_start)
            return StringPart(text="".join(text), line=line, column=column)

        def flush_bytes() -> None:
            if raw_bytes:
                try:
                    text.append(raw_bytes.decode("utf-8"))
                except UnicodeDecodeError:
                    raise self.error("invalid UTF-8 in \\x escapes of string", start) from None
                raw_bytes.clear()

        while True:
            if not text and not raw_bytes:
                text_start = pos
            m = _STRING_TEXT.match(src, pos)
            if m:
                flush_bytes()
                text.append(m.group())
                pos = m.end()
            if pos >= n:
                raise self.error("unterminated string literal: missing closing '\"'", start)
            c = src[pos]
            if c == '"':
                flush_bytes()
                if text or not parts:
                    parts.append(text_part())
                return self.make(TokenType.STRING, start, pos + 1, parts)
            if c == "\\":
                esc = src[pos + 1 : pos + 2]
                if esc == "x" and (h := _HEX2.match(src, pos + 2)):
                    raw_bytes.append(int(h.group(), 16))
                    pos += 4
                    continue
                if esc not in _ESCAPES:
                    raise self.error(f"invalid escape sequence '\\{esc}' in string", pos)
                flush_bytes()
                text.append(_ESCAPES[esc])
                pos += 2
            elif src.startswith("${", pos):
                flush_bytes()
                if text:
                    parts.append(text_part())
                    text.clear()
                if depth + 1 > MAX_NESTING:
                    raise self.error("nesting too deep", pos)
                line, column = self.position(pos)
                inner, pos = self.scan(pos + 2, depth + 1)
                parts.append(StringPart(tokens=inner, line=line, column=column))
            else:  # a `$` not followed by `{`
                flush_bytes()
                text.append("$")
                pos += 1

    def regex(self, start: int) -> Token:
        """A `/.../` literal; `\\/` becomes `/`, every other escape is kept for RE2."""
        src, n = self.src, len(self.src)
        pieces: list[str] = []
        pos = start + 1
        while True:
            m = _REGEX_TEXT.match(src, pos)
            if m:
                pieces.append(m.group())
                pos = m.end()
            c = src[pos] if pos < n else "\n"
            if c == "/":
                return self.make(TokenType.REGEX, start, pos + 1, "".join(pieces))
            if c == "\n":
                raise self.error("unterminated regular expression literal: missing '/'", start)
            nxt = src[pos + 1 : pos + 2]
            if nxt in ("", "\n"):
                raise self.error("unterminated regular expression literal: missing '/'", start)
            pieces.append("/" if nxt == "/" else "\\" + nxt)
            pos += 2


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
