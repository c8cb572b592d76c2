"""Lexical scopes and Flux function values (closures) for the interpreter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxRuntimeError

if TYPE_CHECKING:
    from fluxlab.flux.context import Context


class Scope:
    """A chain of name -> value bindings; lookups walk outwards."""

    __slots__ = ("parent", "values")

    def __init__(self, parent: Scope | None = None, values: dict[str, Any] | None = None):
        self.parent = parent
        self.values: dict[str, Any] = values if values is not None else {}

    def lookup(self, name: str) -> tuple[bool, Any]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return True, scope.values[name]
            scope = scope.parent
        return False, None

    def define(self, name: str, value: Any) -> None:
        self.values[name] = value

    def child(self, values: dict[str, Any] | None = None) -> Scope:
        return Scope(self, values)


@dataclass(eq=False)
class Closure:
    """A Flux function literal together with the scope it was defined in."""

    node: ast.FunctionExpression
    scope: Scope
    name: str = "<anonymous>"
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.node.params)

    @property
    def pipe(self) -> str | None:
        for p in self.node.params:
            if isinstance(p.value, ast.PipeLiteral):
                return p.name
        return None

    def __call__(self, ctx: Context, args: dict[str, Any]) -> Any:
        interp = ctx.interpreter
        if interp is None:
            raise FluxRuntimeError("a Flux closure needs an interpreter in its context")
        return interp.call_closure(self, args)
