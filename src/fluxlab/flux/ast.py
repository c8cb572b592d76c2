"""The Flux abstract syntax tree: one small dataclass per node kind.

Produced by `fluxlab.flux.parser`, consumed by the interpreter. Node names follow the
Flux SPEC (https://docs.influxdata.com/flux/v0/spec/) so readers can map one to the
other. Every node records where it starts (`line`, `column`, both 1-based) so errors
can point at the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Node:
    line: int = field(default=0, kw_only=True, compare=False, repr=False)
    column: int = field(default=0, kw_only=True, compare=False, repr=False)


# ----------------------------------------------------------------------------- program


@dataclass(slots=True)
class ImportDeclaration(Node):
    path: str
    alias: str | None = None

    @property
    def name(self) -> str:
        """The identifier the import binds: the alias, or the path's last element."""
        return self.alias or self.path.rsplit("/", 1)[-1]


@dataclass(slots=True)
class File(Node):
    package: str | None
    imports: list[ImportDeclaration]
    body: list[Statement]


# ----------------------------------------------------------------------------- statements


class Statement(Node):
    __slots__ = ()


@dataclass(slots=True)
class VariableAssignment(Statement):
    id: Identifier
    init: Expression


@dataclass(slots=True)
class MemberAssignment(Statement):
    """`option a.b = ...`: assignment to a member of an imported package."""

    member: MemberExpression
    init: Expression


@dataclass(slots=True)
class OptionStatement(Statement):
    assignment: VariableAssignment | MemberAssignment


@dataclass(slots=True)
class ExpressionStatement(Statement):
    expression: Expression


@dataclass(slots=True)
class ReturnStatement(Statement):
    argument: Expression


@dataclass(slots=True)
class BuiltinStatement(Statement):
    """`builtin name : type` — declares a native function; the type text is kept raw."""

    id: Identifier
    type_text: str = ""


@dataclass(slots=True)
class TestCaseStatement(Statement):
    """`testcase name [extends "pkg.name"] { ... }` from Flux test files."""

    id: Identifier
    block: Block
    extends: str | None = None


@dataclass(slots=True)
class Block(Node):
    body: list[Statement]


# ----------------------------------------------------------------------------- expressions


class Expression(Node):
    __slots__ = ()


@dataclass(slots=True)
class Identifier(Expression):
    name: str


@dataclass(slots=True)
class IntegerLiteral(Expression):
    value: int


@dataclass(slots=True)
class FloatLiteral(Expression):
    value: float


@dataclass(slots=True)
class StringLiteral(Expression):
    value: str


@dataclass(slots=True)
class BooleanLiteral(Expression):
    """Flux spells booleans as the identifiers `true`/`false`; the parser may emit this."""

    value: bool


@dataclass(slots=True)
class DurationLiteral(Expression):
    """`1mo2w3d4h` -> [(1, "mo"), (2, "w"), (3, "d"), (4, "h")]. Units: y mo w d h m s ms us µs ns."""

    values: list[tuple[int, str]]


@dataclass(slots=True)
class DateTimeLiteral(Expression):
    """An RFC3339 time literal; `value` is nanoseconds since the Unix epoch, UTC."""

    value: int
    text: str = ""


@dataclass(slots=True)
class RegexpLiteral(Expression):
    """`/pattern/` with `\\/` already unescaped to `/`; RE2 syntax (Go's regexp)."""

    pattern: str


@dataclass(slots=True)
class PipeLiteral(Expression):
    """`<-` as a parameter default: the parameter receives the piped-in value."""


@dataclass(slots=True)
class TextPart(Node):
    value: str


@dataclass(slots=True)
class InterpolatedPart(Node):
    expression: Expression


@dataclass(slots=True)
class StringExpression(Expression):
    """A string literal containing `${...}`: text and interpolated parts in order."""

    parts: list[TextPart | InterpolatedPart]


@dataclass(slots=True)
class ArrayExpression(Expression):
    elements: list[Expression]


@dataclass(slots=True)
class DictItem(Node):
    key: Expression
    value: Expression


@dataclass(slots=True)
class DictExpression(Expression):
    """`["a": 1, "b": 2]`; `[:]` is the empty dictionary."""

    elements: list[DictItem]


@dataclass(slots=True)
class Property(Node):
    """A record property `key: value`, or a shorthand `key` (value None), or a function
    parameter `name=default` (value is the default, None when there is none)."""

    key: Identifier | StringLiteral
    value: Expression | None = None

    @property
    def name(self) -> str:
        return self.key.name if isinstance(self.key, Identifier) else self.key.value


@dataclass(slots=True)
class ObjectExpression(Expression):
    """A record literal `{a: 1}` or `{r with a: 1}` (`with_` is the extended record)."""

    properties: list[Property]
    with_: Expression | None = None


@dataclass(slots=True)
class FunctionExpression(Expression):
    """`(a, b=1, tables=<-) => body`; body is an expression or a Block ending in return."""

    params: list[Property]
    body: Expression | Block


@dataclass(slots=True)
class CallExpression(Expression):
    """`f(a: 1, b: 2)`; Flux calls take named arguments only (one record)."""

    callee: Expression
    arguments: ObjectExpression | None = None


@dataclass(slots=True)
class PipeExpression(Expression):
    """`argument |> call`."""

    argument: Expression
    call: CallExpression


@dataclass(slots=True)
class MemberExpression(Expression):
    """`object.property` or `object["property"]`."""

    object: Expression
    property: str


@dataclass(slots=True)
class IndexExpression(Expression):
    """`array[index]` or `dict[key]` with a non-literal-string index."""

    array: Expression
    index: Expression


@dataclass(slots=True)
class BinaryExpression(Expression):
    """Operators: + - * / % ^ == != < <= > >= =~ !~."""

    operator: str
    left: Expression
    right: Expression


@dataclass(slots=True)
class UnaryExpression(Expression):
    """Operators: - + not exists."""

    operator: str
    argument: Expression


@dataclass(slots=True)
class LogicalExpression(Expression):
    """Operators: and or (short-circuit)."""

    operator: str
    left: Expression
    right: Expression


@dataclass(slots=True)
class ConditionalExpression(Expression):
    test: Expression
    consequent: Expression
    alternate: Expression
