"""Flux token kinds and the Token record the lexer produces.

Kinds follow the lexical elements of the Flux SPEC: identifiers, keywords, literals
and operators. Keyword and operator tokens use their own text as kind name suffix so
the parser can compare kinds directly (`TokenType.PIPE_FORWARD`, `TokenType.AND`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TokenType(Enum):
    # ---------------------------------------------------------------- literals, names
    IDENT = "identifier"
    INT = "integer"
    FLOAT = "float"
    STRING = "string"
    DURATION = "duration"
    TIME = "time"
    REGEX = "regexp"
    # ---------------------------------------------------------------- keywords
    AND = "and"
    OR = "or"
    NOT = "not"
    EMPTY = "empty"
    IN = "in"
    IMPORT = "import"
    PACKAGE = "package"
    RETURN = "return"
    OPTION = "option"
    BUILTIN = "builtin"
    TESTCASE = "testcase"
    EXTENDS = "extends"
    IF = "if"
    THEN = "then"
    ELSE = "else"
    EXISTS = "exists"
    # ---------------------------------------------------------------- operators
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"
    POW = "^"
    EQ = "=="
    NEQ = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    REGEXEQ = "=~"
    REGEXNEQ = "!~"
    ASSIGN = "="
    ARROW = "=>"
    PIPE_RECEIVE = "<-"
    PIPE_FORWARD = "|>"
    DOT = "."
    COMMA = ","
    COLON = ":"
    QUESTION = "?"
    LPAREN = "("
    RPAREN = ")"
    LBRACK = "["
    RBRACK = "]"
    LBRACE = "{"
    RBRACE = "}"
    # ---------------------------------------------------------------- end of input
    EOF = "end of input"


KEYWORDS: dict[str, TokenType] = {
    t.value: t
    for t in (
        TokenType.AND,
        TokenType.OR,
        TokenType.NOT,
        TokenType.EMPTY,
        TokenType.IN,
        TokenType.IMPORT,
        TokenType.PACKAGE,
        TokenType.RETURN,
        TokenType.OPTION,
        TokenType.BUILTIN,
        TokenType.TESTCASE,
        TokenType.EXTENDS,
        TokenType.IF,
        TokenType.THEN,
        TokenType.ELSE,
        TokenType.EXISTS,
    )
}

# Operator and punctuation texts (the lexer tries longer ones first: `<=` before `<`).
OPERATORS: dict[str, TokenType] = {t.value: t for t in TokenType if not t.value[0].isalpha()}

# Tokens after which `/` is division (they end an operand); elsewhere `/` starts a regex.
OPERAND_END: frozenset[TokenType] = frozenset(
    {
        TokenType.IDENT,
        TokenType.INT,
        TokenType.FLOAT,
        TokenType.STRING,
        TokenType.DURATION,
        TokenType.TIME,
        TokenType.REGEX,
        TokenType.RPAREN,
        TokenType.RBRACK,
        TokenType.RBRACE,
    }
)


@dataclass(slots=True)
class StringPart:
    """One piece of a string literal: raw text, or the tokens of a `${...}` expression."""

    text: str | None = None
    tokens: list[Token] | None = None
    line: int = 0
    column: int = 0


@dataclass(slots=True)
class Token:
    """A lexeme with its decoded value and where it starts (1-based) and its offsets.

    `value` by kind: INT int, FLOAT float, DURATION list[(int, unit)], TIME (ns, text),
    REGEX pattern str, STRING list[StringPart]; other kinds: None.
    """

    kind: TokenType
    text: str
    line: int
    column: int
    start: int
    end: int
    value: Any = field(default=None)

    def describe(self) -> str:
        """How an error message names this token: `"|>"`, `end of input`."""
        if self.kind is TokenType.EOF:
            return f'"{self.text}"' if self.text else "end of input"
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        text = text.replace("\n", "\\n")
        if self.kind is TokenType.STRING:
            return f"string {text}"
        if self.kind in _NAMED_KINDS:
            return f'{self.kind.value} "{text}"'
        return f'"{text}"'


_NAMED_KINDS = frozenset(
    {
        TokenType.IDENT,
        TokenType.INT,
        TokenType.FLOAT,
        TokenType.DURATION,
        TokenType.TIME,
        TokenType.REGEX,
    }
)
