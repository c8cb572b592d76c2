"""The Flux parser: tokens -> `fluxlab.flux.ast` (recursive descent, SPEC precedence).

Precedence, loosest first (Flux SPEC, "Expressions"):

    if/then/else  <  or  <  and  <  not, exists (prefix)
    <  == != < <= > >= =~ !~  <  + -  <  * / %  <  ^  <  |>  <  unary + -
    <  postfix: call f(...), member a.b / a["b"], index a[i]

Binary operators are left associative. `|>` needs a call on its right. Every problem
raises FluxSyntaxError with line, column, what was expected and what was found; input
nested deeper than MAX_DEPTH is rejected ("nesting too deep") before Python's own
recursion limit could be reached.

Public API: `parse(source) -> ast.File`, `parse_expression(source) -> ast.Expression`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxSyntaxError
from fluxlab.flux.lexer import tokenize
from fluxlab.flux.tokens import Token, TokenType

T = TokenType
N = TypeVar("N", bound=ast.Node)
R = TypeVar("R")

MAX_DEPTH = 64
"""Deepest expression nesting accepted (parentheses, brackets, calls, prefix operators)."""

_LOGICAL = {T.OR: (1, "or"), T.AND: (2, "and")}
_NOT_LEVEL = 3  # `not` / `exists` bind looser than comparisons, tighter than `and`
_BINARY = {
    T.EQ: 4,
    T.NEQ: 4,
    T.LT: 4,
    T.LTE: 4,
    T.GT: 4,
    T.GTE: 4,
    T.REGEXEQ: 4,
    T.REGEXNEQ: 4,
    T.ADD: 5,
    T.SUB: 5,
    T.MUL: 6,
    T.DIV: 6,
    T.MOD: 6,
    T.POW: 7,
}
_PRECEDENCE = {**{k: v[0] for k, v in _LOGICAL.items()}, **_BINARY}

# Tokens that, at the end of a line, mean a builtin's type text continues on the next.
_TYPE_CONTINUES_AFTER = frozenset(
    {T.ARROW, T.COMMA, T.COLON, T.ADD, T.LPAREN, T.LBRACK, T.LBRACE, T.PIPE_RECEIVE, T.QUESTION}
)
_TYPE_CONTINUES_WITH = frozenset({T.ARROW, T.COMMA, T.ADD, T.RPAREN, T.RBRACK, T.RBRACE})


def parse(source: str) -> ast.File:
    """Parse a Flux program (package clause, imports, statements)."""
    return _guarded(lambda: _Parser(tokenize(source), source).parse_file())


def parse_expression(source: str) -> ast.Expression:
    """Parse a single Flux expression; anything after it is an error."""

    def run() -> ast.Expression:
        parser = _Parser(tokenize(source), source)
        expr = parser.parse_expression()
        parser.expect(T.EOF)
        return expr

    return _guarded(run)


def _guarded(run: Callable[[], R]) -> R:
    """Run a parse; a caller already deep in its own stack may still hit Python's limit."""
    try:
        return run()
    except RecursionError:
        raise FluxSyntaxError("nesting too deep") from None


class _Parser:
    def __init__(self, tokens: list[Token], source: str, depth: int = 0) -> None:
        self.toks = tokens
        self.source = source
        self.pos = 0
        self.depth = depth
        self.paren_close = _match_parens(tokens)

    # ------------------------------------------------------------------ token helpers

    def peek(self, ahead: int = 0) -> Token:
        """The token `ahead` positions on (the final EOF token never moves)."""
        if not ahead:
            return self.toks[self.pos]
        i = self.pos + ahead
        return self.toks[i] if i < len(self.toks) else self.toks[-1]

    def advance(self) -> Token:
        tok = self.toks[self.pos]
        if tok.kind is not T.EOF:
            self.pos += 1
        return tok

    def expect(self, kind: TokenType, what: str | None = None) -> Token:
        tok = self.peek()
        if tok.kind is not kind:
            raise self.error(tok, what or _expected_name(kind))
        return self.advance()

    def error(self, tok: Token, expected: str) -> FluxSyntaxError:
        return FluxSyntaxError(f"expected {expected} but found {tok.describe()}", tok.line, tok.column)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FluxSyntaxError(
                f"nesting too deep (more than {MAX_DEPTH} levels)", tok.line, tok.column
            )

    # ------------------------------------------------------------------ file, statements

    def parse_file(self) -> ast.File:
        package = None
        if self.peek().kind is T.PACKAGE:
            self.advance()
            package = self.expect(T.IDENT, "package name").text
        imports: list[ast.ImportDeclaration] = []
        while self.peek().kind is T.IMPORT:
            imports.append(self.parse_import())
        body: list[ast.Statement] = []
        while self.peek().kind is not T.EOF:
            body.append(self.parse_statement())
        return ast.File(package, imports, body, line=1, column=1)

    def parse_import(self) -> ast.ImportDeclaration:
        start = self.advance()
        alias = self.advance().text if self.peek().kind is T.IDENT else None
        path = self.plain_string(self.expect(T.STRING, "import path string"))
        return _at(ast.ImportDeclaration(path, alias), start)

    def parse_statement(self) -> ast.Statement:
        tok = self.peek()
        kind = tok.kind
        if kind is T.IDENT and self.peek(1).kind is T.ASSIGN:
            return self.parse_assignment()
        if kind is T.OPTION:
            return self.parse_option()
        if kind is T.RETURN:
            self.advance()
            return _at(ast.ReturnStatement(self.parse_expression()), tok)
        if kind is T.BUILTIN:
            return self.parse_builtin()
        if kind is T.TESTCASE:
            return self.parse_testcase()
        if kind is T.IMPORT:
            raise FluxSyntaxError(
                "import declarations must come before all other statements", tok.line, tok.column
            )
        if kind is T.RBRACE or kind is T.RPAREN or kind is T.RBRACK or kind is T.ASSIGN:
            raise self.error(tok, "statement")
        return _at(ast.ExpressionStatement(self.parse_expression()), tok)

    def parse_assignment(self) -> ast.VariableAssignment:
        name = self.advance()
        self.expect(T.ASSIGN)
        init = self.parse_expression()
        return _at(ast.VariableAssignment(_at(ast.Identifier(name.text), name), init), name)

    def parse_option(self) -> ast.OptionStatement:
        start = self.advance()
        name = self.expect(T.IDENT, "option name")
        ident = _at(ast.Identifier(name.text), name)
        if self.peek().kind is T.DOT:
            self.advance()
            prop = self.expect(T.IDENT, "option name after \".\"")
            self.expect(T.ASSIGN)
            member = _at(ast.MemberExpression(ident, prop.text), name)
            assignment: ast.VariableAssignment | ast.MemberAssignment = _at(
                ast.MemberAssignment(member, self.parse_expression()), name
            )
        else:
            self.expect(T.ASSIGN)
            assignment = _at(ast.VariableAssignment(ident, self.parse_expression()), name)
        return _at(ast.OptionStatement(assignment), start)

    def parse_builtin(self) -> ast.BuiltinStatement:
        start = self.advance()
        name = self.expect(T.IDENT, "builtin name")
        self.expect(T.COLON)
        first = self.peek()
        last: Token | None = None
        depth = 0
        while (tok := self.peek()).kind is not T.EOF:
            if depth == 0 and last is not None and tok.line > last.line:
                continues = (
                    last.kind in _TYPE_CONTINUES_AFTER
                    or last.text == "where"
                    or tok.kind in _TYPE_CONTINUES_WITH
                    or tok.text == "where"
                )
                if not continues:
                    break
            if tok.kind in (T.LPAREN, T.LBRACK, T.LBRACE):
                depth += 1
            elif tok.kind in (T.RPAREN, T.RBRACK, T.RBRACE):
                if depth == 0:
                    break
                depth -= 1
            last = self.advance()
        if last is None:
            raise self.error(first, "type")
        type_text = self.source[first.start : last.end]
        return _at(ast.BuiltinStatement(_at(ast.Identifier(name.text), name), type_text), start)

    def parse_testcase(self) -> ast.TestCaseStatement:
        start = self.advance()
        name = self.expect(T.IDENT, "testcase name")
        extends = None
        if self.peek().kind is T.EXTENDS:
            self.advance()
            extends = self.plain_string(self.expect(T.STRING, "string after \"extends\""))
        block = self.parse_block()
        return _at(
            ast.TestCaseStatement(_at(ast.Identifier(name.text), name), block, extends), start
        )

    def parse_block(self) -> ast.Block:
        start = self.expect(T.LBRACE)
        self.enter(start)
        body: list[ast.Statement] = []
        while self.peek().kind is not T.RBRACE:
            if self.peek().kind is T.EOF:
                raise self.error(self.peek(), '"}"')
            body.append(self.parse_statement())
        self.advance()
        self.depth -= 1
        return _at(ast.Block(body), start)

    # ------------------------------------------------------------------ expressions

    def parse_expression(self) -> ast.Expression:
        tok = self.peek()
        self.enter(tok)
        if tok.kind is T.IF:
            self.advance()
            test = self.parse_expression()
            self.expect(T.THEN)
            consequent = self.parse_expression()
            self.expect(T.ELSE)
            alternate = self.parse_expression()
            expr: ast.Expression = _at(ast.ConditionalExpression(test, consequent, alternate), tok)
        else:
            expr = self.parse_binary(1)
        self.depth -= 1
        return expr

    def parse_binary(self, min_prec: int) -> ast.Expression:
        """Operators of precedence >= min_prec, left associative (precedence climbing)."""
        left = self.parse_operand(min_prec)
        while True:
            kind = self.peek().kind
            prec = _PRECEDENCE.get(kind)
            if prec is None or prec < min_prec:
                return left
            op = self.advance()
            right = self.parse_binary(prec + 1)
            if kind in _LOGICAL:
                left = ast.LogicalExpression(_LOGICAL[kind][1], left, right)
            else:
                left = ast.BinaryExpression(op.text, left, right)
            left.line, left.column = left.left.line, left.left.column

    def parse_operand(self, min_prec: int) -> ast.Expression:
        tok = self.peek()
        if tok.kind is T.NOT or tok.kind is T.EXISTS:
            if min_prec > _NOT_LEVEL:
                raise self.error(tok, "expression")
            self.advance()
            self.enter(tok)
            argument = self.parse_binary(_NOT_LEVEL)
            self.depth -= 1
            return _at(ast.UnaryExpression(tok.text, argument), tok)
        return self.parse_pipe()

    def parse_pipe(self) -> ast.Expression:
        expr = self.parse_unary()
        while self.peek().kind is T.PIPE_FORWARD:
            self.advance()
            target = self.peek()
            call = self.parse_postfix()
            if not isinstance(call, ast.CallExpression):
                raise FluxSyntaxError(
                    f'expected function call after "|>" but found {target.describe()}',
                    target.line,
                    target.column,
                )
            expr = ast.PipeExpression(expr, call, line=expr.line, column=expr.column)
        return expr

    def parse_unary(self) -> ast.Expression:
        tok = self.peek()
        if tok.kind is T.SUB or tok.kind is T.ADD:
            self.advance()
            self.enter(tok)
            argument = self.parse_unary()
            self.depth -= 1
            return _at(ast.UnaryExpression(tok.text, argument), tok)
        return self.parse_postfix()

    def parse_postfix(self) -> ast.Expression:
        expr = self.parse_primary()
        while True:
            kind = self.peek().kind
            if kind is T.DOT:
                self.advance()
                prop = self.expect(T.IDENT, 'property name after "."')
                expr = ast.MemberExpression(expr, prop.text, line=expr.line, column=expr.column)
            elif kind is T.LBRACK:
                bracket = self.advance()
                self.enter(bracket)
                index = self.parse_expression()
                self.depth -= 1
                self.expect(T.RBRACK)
                if isinstance(index, ast.StringLiteral):
                    expr = ast.MemberExpression(expr, index.value)
                else:
                    expr = ast.IndexExpression(expr, index)
                expr.line, expr.column = _start(expr)
            elif kind is T.LPAREN:
                paren = self.advance()
                self.enter(paren)
                arguments = None
                if self.peek().kind is not T.RPAREN:
                    arguments = _at(ast.ObjectExpression(self.parse_properties(T.RPAREN)), paren)
                self.expect(T.RPAREN)
                self.depth -= 1
                expr = ast.CallExpression(expr, arguments, line=expr.line, column=expr.column)
            else:
                return expr

    def parse_primary(self) -> ast.Expression:
        tok = self.peek()
        kind = tok.kind
        if kind is T.IDENT:
            self.advance()
            if tok.text in ("true", "false"):
                return _at(ast.BooleanLiteral(tok.text == "true"), tok)
            return _at(ast.Identifier(tok.text), tok)
        if kind is T.INT:
            self.advance()
            return _at(ast.IntegerLiteral(tok.value), tok)
        if kind is T.FLOAT:
            self.advance()
            return _at(ast.FloatLiteral(tok.value), tok)
        if kind is T.STRING:
            self.advance()
            return self.string_expression(tok)
        if kind is T.DURATION:
            self.advance()
            return _at(ast.DurationLiteral(list(tok.value)), tok)
        if kind is T.TIME:
            self.advance()
            return _at(ast.DateTimeLiteral(tok.value[0], tok.value[1]), tok)
        if kind is T.REGEX:
            self.advance()
            return _at(ast.RegexpLiteral(tok.value), tok)
        if kind is T.LPAREN:
            if self.is_function_start():
                return self.parse_function()
            self.advance()
            expr = self.parse_expression()
            self.expect(T.RPAREN)
            return expr
        if kind is T.LBRACK:
            return self.parse_array_or_dict()
        if kind is T.LBRACE:
            return self.parse_record()
        raise self.error(tok, "expression")

    # ------------------------------------------------------------------ composite literals

    def is_function_start(self) -> bool:
        """`(` opens a function literal iff its matching `)` is followed by `=>`."""
        close = self.paren_close.get(self.pos)
        return close is not None and self.toks[close + 1].kind is T.ARROW

    def parse_function(self) -> ast.FunctionExpression:
        start = self.advance()
        self.enter(start)
        params: list[ast.Property] = []
        while self.peek().kind is not T.RPAREN:
            name = self.expect(T.IDENT, "parameter name")
            default: ast.Expression | None = None
            if self.peek().kind is T.ASSIGN:
                self.advance()
                if self.peek().kind is T.PIPE_RECEIVE:
                    default = _at(ast.PipeLiteral(), self.advance())
                else:
                    default = self.parse_expression()
            params.append(_at(ast.Property(_at(ast.Identifier(name.text), name), default), name))
            if self.peek().kind is not T.COMMA:
                break
            self.advance()
        self.expect(T.RPAREN)
        self.expect(T.ARROW)
        body: ast.Expression | ast.Block
        body = self.parse_block() if self.peek().kind is T.LBRACE else self.parse_expression()
        self.depth -= 1
        return _at(ast.FunctionExpression(params, body), start)

    def parse_record(self) -> ast.ObjectExpression:
        start = self.advance()
        self.enter(start)
        with_: ast.Expression | None = None
        first, second = self.peek(), self.peek(1)
        if first.kind is T.IDENT and second.kind is T.IDENT and second.text == "with":
            self.advance()
            self.advance()
            with_ = _at(ast.Identifier(first.text), first)
        properties = self.parse_properties(T.RBRACE)
        self.expect(T.RBRACE)
        self.depth -= 1
        return _at(ast.ObjectExpression(properties, with_), start)

    def parse_properties(self, end: TokenType) -> list[ast.Property]:
        """`key: value` / shorthand `key` items separated by commas (trailing one allowed)."""
        properties: list[ast.Property] = []
        while self.peek().kind is not end:
            tok = self.peek()
            key: ast.Identifier | ast.StringLiteral
            if tok.kind is T.IDENT:
                key = _at(ast.Identifier(self.advance().text), tok)
            elif tok.kind is T.STRING:
                key = _at(ast.StringLiteral(self.plain_string(self.advance())), tok)
            else:
                raise self.error(tok, f'property name or "{end.value}"')
            value = None
            if self.peek().kind is T.COLON:
                self.advance()
                value = self.parse_expression()
            elif isinstance(key, ast.StringLiteral):
                raise self.error(self.peek(), '":"')
            properties.append(_at(ast.Property(key, value), tok))
            if self.peek().kind is not T.COMMA:
                break
            self.advance()
        return properties

    def parse_array_or_dict(self) -> ast.ArrayExpression | ast.DictExpression:
        start = self.advance()
        self.enter(start)
        if self.peek().kind is T.COLON and self.peek(1).kind is T.RBRACK:
            self.advance()
            self.advance()
            self.depth -= 1
            return _at(ast.DictExpression([]), start)
        if self.peek().kind is T.RBRACK:
            self.advance()
            self.depth -= 1
            return _at(ast.ArrayExpression([]), start)
        first = self.parse_expression()
        result: ast.ArrayExpression | ast.DictExpression
        if self.peek().kind is T.COLON:
            self.advance()
            items = [_at(ast.DictItem(first, self.parse_expression()), start)]
            while self.peek().kind is T.COMMA:
                self.advance()
                if self.peek().kind is T.RBRACK:
                    break
                key = self.parse_expression()
                self.expect(T.COLON)
                items.append(ast.DictItem(key, self.parse_expression(), line=key.line, column=key.column))
            items[0].line, items[0].column = first.line, first.column
            result = _at(ast.DictExpression(items), start)
        else:
            elements = [first]
            while self.peek().kind is T.COMMA:
                self.advance()
                if self.peek().kind is T.RBRACK:
                    break
                elements.append(self.parse_expression())
            result = _at(ast.ArrayExpression(elements), start)
        self.expect(T.RBRACK)
        self.depth -= 1
        return result

    # ------------------------------------------------------------------ strings

    def plain_string(self, tok: Token) -> str:
        """The value of a string literal that must not contain `${...}`."""
        if any(part.tokens is not None for part in tok.value):
            raise FluxSyntaxError(
                "string interpolation is not allowed here", tok.line, tok.column
            )
        return "".join(part.text or "" for part in tok.value)

    def string_expression(self, tok: Token) -> ast.StringLiteral | ast.StringExpression:
        if all(part.tokens is None for part in tok.value):
            return _at(ast.StringLiteral("".join(part.text or "" for part in tok.value)), tok)
        parts: list[ast.TextPart | ast.InterpolatedPart] = []
        for part in tok.value:
            if part.tokens is None:
                parts.append(ast.TextPart(part.text or "", line=part.line, column=part.column))
                continue
            inner = _Parser(part.tokens, self.source, self.depth + 1)
            if inner.depth > MAX_DEPTH:
                raise FluxSyntaxError("nesting too deep", part.line, part.column)
            expr = inner.parse_expression()
            inner.expect(T.EOF, '"}"')
            parts.append(ast.InterpolatedPart(expr, line=part.line, column=part.column))
        return _at(ast.StringExpression(parts), tok)


# ---------------------------------------------------------------------- helpers


def _at(node: N, tok: Token) -> N:
    """Set a node's position to a token's and return the node."""
    node.line = tok.line
    node.column = tok.column
    return node


def _start(expr: ast.MemberExpression | ast.IndexExpression) -> tuple[int, int]:
    inner = expr.object if isinstance(expr, ast.MemberExpression) else expr.array
    return inner.line, inner.column


def _expected_name(kind: TokenType) -> str:
    if kind is T.EOF:
        return "end of input"
    if kind in (T.IDENT, T.INT, T.FLOAT, T.STRING, T.DURATION, T.TIME, T.REGEX):
        return kind.value
    return f'"{kind.value}"'


def _match_parens(tokens: list[Token]) -> dict[int, int]:
    """Index of each `(` -> index of its matching `)` (unmatched ones are left out)."""
    close: dict[int, int] = {}
    stack: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.kind is T.LPAREN:
            stack.append(i)
        elif tok.kind is T.RPAREN and stack:
            close[stack.pop()] = i
    return close
