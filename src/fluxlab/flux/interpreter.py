"""A tree-walking evaluator for Flux programs (`ast.File`).

Scalars and records are evaluated here; table work happens inside the native stdlib
functions, which receive whole streams and run vectorized Polars code. Every
expression statement that produces a stream becomes a result (named by `yield`,
otherwise `_result`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import polars as pl

from fluxlab.flux import ast
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxError, FluxRuntimeError, FluxTypeError, UnsupportedError
from fluxlab.flux.operators import (
    TypedNull,
    arithmetic,
    compare,
    duration_from_parts,
    is_null,
    negate,
    strip_null,
)
from fluxlab.flux.registry import PACKAGES, NativeFunction
from fluxlab.flux.scope import Closure, Scope
from fluxlab.flux.stdlib.from_store import StoreSource, push_aggregate
from fluxlab.flux.table import Stream
from fluxlab.flux.values import Dictionary, Regex, Time, type_name

DEFAULT_RESULT = "_result"


class Package(dict):
    """An imported package: a record of its members (a per-run copy of the registry)."""

    def __init__(self, path: str, members: dict[str, Any]) -> None:
        super().__init__(members)
        self.path = path


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Interpreter:
    """Evaluates one Flux program against a Context."""

    def __init__(self, ctx: Context) -> None:
        from fluxlab.flux.stdlib import load_all

        load_all()
        self.ctx = ctx
        ctx.interpreter = self
        self.universe = Scope(None, dict(PACKAGES.get("universe", {})))
        self.globals = self.universe.child()
        self.packages: dict[str, Package] = {}
        self.results: dict[str, Stream] = {}
        self._yielded: set[int] = set()
        for name, value in ctx.options.items():  # externs, e.g. Grafana's `v` record
            if "." not in name:
                self.globals.define(name, value)

    # ------------------------------------------------------------------ program

    def run(self, program: ast.File) -> dict[str, Stream]:
        """Evaluate every statement; return the results by name."""
        for imp in program.imports:
            self._import(imp)
        for stmt in program.body:
            self.ctx.check_time()
            self.exec_statement(stmt, self.globals, top_level=True)
        for stream in self.results.values():
            if isinstance(stream, StoreSource):
                _ = stream.tables  # read now, so storage errors surface from run()
        return self.results

    def _import(self, imp: ast.ImportDeclaration) -> None:
        package = self.package(imp.path, imp)
        self.globals.define(imp.name, package)

    def package(self, path: str, node: ast.Node | None = None) -> Package:
        if path not in self.packages:
            if path not in PACKAGES:
                raise _at(UnsupportedError(f'unsupported package "{path}"'), node)
            self.packages[path] = Package(path, PACKAGES[path])
        return self.packages[path]

    def add_result(self, name: str, stream: Stream) -> None:
        """Record a stream as result `name` (repeated names append tables)."""
        self._yielded.add(id(stream))
        if name in self.results:
            self.results[name] = Stream([*self.results[name], *stream])
        else:
            self.results[name] = stream

    # ------------------------------------------------------------------ statements

    def exec_statement(self, stmt: ast.Statement, scope: Scope, top_level: bool = False) -> None:
        try:
            self._exec(stmt, scope, top_level)
        except FluxError as exc:
            raise _at(exc, stmt) from None
        except RecursionError:
            raise _at(FluxRuntimeError("expression nesting too deep"), stmt) from None

    def _exec(self, stmt: ast.Statement, scope: Scope, top_level: bool) -> None:
        match stmt:
            case ast.VariableAssignment(id=ident, init=init):
                scope.define(ident.name, self._named(self.eval(init, scope), ident.name))
            case ast.OptionStatement(assignment=assignment):
                self._option(assignment, scope)
            case ast.ExpressionStatement(expression=expr):
                if top_level:
                    self._yielded.clear()  # only a yield inside this statement counts
                value = self.eval(expr, scope)
                if top_level and isinstance(value, Stream) and id(value) not in self._yielded:
                    self.add_result(DEFAULT_RESULT, value)
            case ast.ReturnStatement(argument=arg):
                raise _Return(self.eval(arg, scope))
            case ast.BuiltinStatement() | ast.TestCaseStatement():
                pass
            case _:
                raise FluxRuntimeError(f"cannot execute {type(stmt).__name__}")

    def _named(self, value: Any, name: str) -> Any:
        if isinstance(value, Closure) and value.name == "<anonymous>":
            value.name = name
        return value

    def _option(self, assignment: ast.Statement, scope: Scope) -> None:
        ctx = self.ctx
        if isinstance(assignment, ast.VariableAssignment):
            name = assignment.id.name
            value = self._named(self.eval(assignment.init, scope), name)
            ctx.options[name] = value
            self.globals.define(name, value)
            if name == "now":
                ctx.reset_now()
            return
        assert isinstance(assignment, ast.MemberAssignment)
        member = assignment.member
        target = self.eval(member.object, scope)
        value = self.eval(assignment.init, scope)
        if isinstance(target, Package):
            target[member.property] = value
            ctx.options[f"{target.path}.{member.property}"] = value
            ctx.options[f"{target.path.rsplit('/', 1)[-1]}.{member.property}"] = value
        elif isinstance(target, dict):
            target[member.property] = value
        else:
            raise FluxTypeError(f"cannot set option on a value of type {type_name(target)}")

    # ------------------------------------------------------------------ expressions

    def eval(self, node: ast.Expression, scope: Scope) -> Any:
        method = _DISPATCH.get(type(node))
        if method is None:
            raise _at(UnsupportedError(f"unsupported expression {type(node).__name__}"), node)
        try:
            return method(self, node, scope)
        except FluxError as exc:
            raise _at(exc, node) from None

    def _identifier(self, node: ast.Identifier, scope: Scope) -> Any:
        found, value = scope.lookup(node.name)
        if found:
            return value
        if node.name in ("true", "false"):
            return node.name == "true"
        raise FluxRuntimeError(f"undefined identifier {node.name}")

    def _string_expression(self, node: ast.StringExpression, scope: Scope) -> str:
        out = []
        for part in node.parts:
            if isinstance(part, ast.TextPart):
                out.append(part.value)
            else:
                out.append(interpolate(self.eval(part.expression, scope)))
        return "".join(out)

    def _array(self, node: ast.ArrayExpression, scope: Scope) -> list[Any]:
        return [self.eval(e, scope) for e in node.elements]

    def _dict(self, node: ast.DictExpression, scope: Scope) -> Dictionary:
        out = Dictionary()
        for item in node.elements:
            out[_hashable(self.eval(item.key, scope))] = self.eval(item.value, scope)
        return out

    def _object(self, node: ast.ObjectExpression, scope: Scope) -> dict[str, Any]:
        if node.with_ is not None:
            base = self.eval(node.with_, scope)
            if not isinstance(base, dict):
                raise FluxTypeError(f"cannot extend a value of type {type_name(base)} with `with`")
            out = dict(base)
        else:
            out = {}
        for prop in node.properties:
            value = prop.value
            if value is None:
                out[prop.name] = self.eval(ast.Identifier(prop.name, line=prop.line), scope)
            else:
                out[prop.name] = self.eval(value, scope)
        return out

    def _function(self, node: ast.FunctionExpression, scope: Scope) -> Closure:
        defaults = {
            p.name: self.eval(p.value, scope)
            for p in node.params
            if p.value is not None and not isinstance(p.value, ast.PipeLiteral)
        }
        return Closure(node, scope, defaults=defaults)

    def _member(self, node: ast.MemberExpression, scope: Scope) -> Any:
        obj = self.eval(node.object, scope)
        return member(obj, node.property)

    def _index(self, node: ast.IndexExpression, scope: Scope) -> Any:
        obj = self.eval(node.array, scope)
        index = self.eval(node.index, scope)
        if isinstance(obj, list):
            if not isinstance(index, int) or isinstance(index, bool):
                raise FluxTypeError(f"array index must be an int, got {type_name(index)}")
            if not 0 <= index < len(obj):
                raise FluxRuntimeError(f"array index {index} out of bounds (length {len(obj)})")
            return obj[index]
        if isinstance(obj, dict) and isinstance(index, str):
            return obj.get(index)
        raise FluxTypeError(f"cannot index a value of type {type_name(obj)}")

    def _binary(self, node: ast.BinaryExpression, scope: Scope) -> Any:
        left = self.eval(node.left, scope)
        right = self.eval(node.right, scope)
        if node.operator in ("==", "!=", "<", "<=", ">", ">=", "=~", "!~"):
            return compare(node.operator, left, right)
        return arithmetic(node.operator, left, right)

    def _unary(self, node: ast.UnaryExpression, scope: Scope) -> Any:
        if node.operator == "exists":
            return not is_null(self.eval(node.argument, scope))
        value = self.eval(node.argument, scope)
        if node.operator == "not":
            if is_null(value):
                return None
            if not isinstance(value, bool):
                raise FluxTypeError(f"`not` needs a bool, got {type_name(value)}")
            return not value
        if node.operator == "-":
            return negate(value)
        return value

    def _logical(self, node: ast.LogicalExpression, scope: Scope) -> Any:
        """Three-valued (Kleene) logic, short-circuiting like Flux."""
        decisive = node.operator == "or"  # the value that decides the result alone
        left_value = self.eval(node.left, scope)
        left = _truth(left_value, node.operator)
        if left is decisive:
            return decisive
        right_value = self.eval(node.right, scope)
        right = _truth(right_value, node.operator)
        if right is decisive:
            return decisive
        if left is None or right is None:
            typed = isinstance(left_value, TypedNull) or isinstance(right_value, TypedNull)
            return TypedNull("bool") if typed else None
        return not decisive

    def _conditional(self, node: ast.ConditionalExpression, scope: Scope) -> Any:
        test = strip_null(self.eval(node.test, scope))
        if test is not None and not isinstance(test, bool):
            raise FluxTypeError(f"if condition must be a bool, got {type_name(test)}")
        return self.eval(node.consequent if test else node.alternate, scope)

    def _call(self, node: ast.CallExpression, scope: Scope, piped: Any = None) -> Any:
        callee = node.callee
        if isinstance(callee, ast.Identifier) and not scope.lookup(callee.name)[0]:
            raise _at(UnsupportedError(f"unsupported function {callee.name}"), callee)
        fn = self.eval(callee, scope)
        args = self._object(node.arguments, scope) if node.arguments else {}
        try:
            return self.call(fn, args, piped=piped, has_pipe=piped is not None, node=node)
        except FluxError as exc:
            raise _at(exc, node) from None
        except pl.exceptions.PolarsError as exc:
            name = getattr(fn, "name", "function")
            raise _at(FluxRuntimeError(f"{name}: {exc}"), node) from None

    def _pipe(self, node: ast.PipeExpression, scope: Scope) -> Any:
        value = self.eval(node.argument, scope)
        return self._call(node.call, scope, piped=value)

    # ------------------------------------------------------------------ calls

    def call(
        self,
        fn: Any,
        args: dict[str, Any],
        *,
        piped: Any = None,
        has_pipe: bool = False,
        node: ast.Node | None = None,
    ) -> Any:
        """Call a function value with named args (and a piped-in value)."""
        if isinstance(fn, NativeFunction):
            if has_pipe and isinstance(piped, StoreSource) and fn.package == "universe":
                pushed = push_aggregate(self.ctx, piped, fn.name, args)
                if pushed is not None:
                    return pushed
            args = self._bind_native(fn, args, piped, has_pipe)
        elif isinstance(fn, Closure):
            if has_pipe:
                pipe = fn.pipe
                if pipe is None:
                    raise FluxRuntimeError(f"function {fn.name} does not take a piped argument")
                args = {**args, pipe: piped}
        elif not callable(fn):
            raise FluxTypeError(f"cannot call a value of type {type_name(fn)}")
        return self.ctx.call(fn, **args)

    def _bind_native(
        self, fn: NativeFunction, args: dict[str, Any], piped: Any, has_pipe: bool
    ) -> dict[str, Any]:
        if has_pipe:
            if fn.pipe is None:
                raise FluxRuntimeError(f"function {fn.name} does not take a piped argument")
            args = {**args, fn.pipe: piped}
        if not _accepts_any_keyword(fn.impl):
            for name in args:
                if name not in fn.params:
                    raise FluxRuntimeError(f"function {fn.name} has no parameter {name!r}")
        missing = [p for p in fn.params if p in fn.required and p not in args]
        if fn.pipe and fn.pipe not in args and _pipe_required(fn):
            missing.insert(0, fn.pipe)
        if missing:
            raise FluxRuntimeError(f"missing required argument {missing[0]!r} in call to {fn.name}")
        return args

    def call_closure(self, fn: Closure, args: dict[str, Any]) -> Any:
        params = fn.params
        for name in args:
            if name not in params:
                raise FluxRuntimeError(f"function {fn.name} has no parameter {name!r}")
        bound: dict[str, Any] = {}
        for name in params:
            if name in args:
                bound[name] = args[name]
            elif name in fn.defaults:
                bound[name] = fn.defaults[name]
            else:
                raise FluxRuntimeError(f"missing required argument {name!r} in call to {fn.name}")
        local = fn.scope.child(bound)
        body = fn.node.body
        if isinstance(body, ast.Block):
            try:
                for stmt in body.body:
                    self.exec_statement(stmt, local)
            except _Return as ret:
                return ret.value
            return None
        return self.eval(body, local)


# ----------------------------------------------------------------------------- helpers


def _at(exc: FluxError, node: ast.Node | None) -> FluxError:
    """Attach the node's position to an error that has none yet."""
    if node is not None and exc.line is None and getattr(node, "line", 0):
        exc.line, exc.column = node.line, node.column
        exc.args = (str(exc),)
    return exc


def _truth(value: Any, operator: str) -> bool | None:
    if is_null(value):
        return None
    if not isinstance(value, bool):
        raise FluxTypeError(f"`{operator}` needs bool operands, got {type_name(value)}")
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        raise FluxTypeError("dictionary keys must be basic values")
    return value


_ACCEPTS_KW: dict[int, bool] = {}


def _accepts_any_keyword(impl: Callable[..., Any]) -> bool:
    key = id(impl)
    if key not in _ACCEPTS_KW:
        params = inspect.signature(impl).parameters.values()
        _ACCEPTS_KW[key] = any(p.kind == p.VAR_KEYWORD for p in params)
    return _ACCEPTS_KW[key]


def _pipe_required(fn: NativeFunction) -> bool:
    param = inspect.signature(fn.impl).parameters.get(fn.pipe or "")
    return param is not None and param.default is inspect.Parameter.empty


def member(obj: Any, name: str) -> Any:
    """`obj.name`: record/package property (missing record property is null)."""
    if isinstance(obj, Package):
        if name not in obj:
            raise UnsupportedError(f"unsupported function {obj.path}.{name}")
        return obj[name]
    if isinstance(obj, dict):
        return obj.get(name)
    if obj is None:
        return None
    raise FluxTypeError(f"cannot access property {name!r} of a value of type {type_name(obj)}")


def interpolate(value: Any) -> str:
    """The text a value contributes to a `${...}` string interpolation."""
    from fluxlab.flux.stdlib.conversions import format_time_fixed, string_of

    if is_null(value):
        raise FluxRuntimeError("cannot interpolate a null value")
    if isinstance(value, Time):
        return format_time_fixed(value)
    return string_of(value)


def _regexp(self: Interpreter, node: ast.RegexpLiteral, scope: Scope) -> Regex:
    try:
        return Regex.compile(node.pattern)
    except re.error as exc:
        raise FluxRuntimeError(f"invalid regular expression /{node.pattern}/: {exc}") from exc


_DISPATCH: dict[type, Callable[[Interpreter, Any, Scope], Any]] = {
    ast.Identifier: Interpreter._identifier,
    ast.IntegerLiteral: lambda self, n, s: n.value,
    ast.FloatLiteral: lambda self, n, s: n.value,
    ast.StringLiteral: lambda self, n, s: n.value,
    ast.BooleanLiteral: lambda self, n, s: n.value,
    ast.DurationLiteral: lambda self, n, s: duration_from_parts(n.values),
    ast.DateTimeLiteral: lambda self, n, s: Time(n.value),
    ast.RegexpLiteral: _regexp,
    ast.StringExpression: Interpreter._string_expression,
    ast.ArrayExpression: Interpreter._array,
    ast.DictExpression: Interpreter._dict,
    ast.ObjectExpression: Interpreter._object,
    ast.FunctionExpression: Interpreter._function,
    ast.CallExpression: Interpreter._call,
    ast.PipeExpression: Interpreter._pipe,
    ast.MemberExpression: Interpreter._member,
    ast.IndexExpression: Interpreter._index,
    ast.BinaryExpression: Interpreter._binary,
    ast.UnaryExpression: Interpreter._unary,
    ast.LogicalExpression: Interpreter._logical,
    ast.ConditionalExpression: Interpreter._conditional,
}

__all__ = ["DEFAULT_RESULT", "Interpreter", "Package", "interpolate", "member"]
