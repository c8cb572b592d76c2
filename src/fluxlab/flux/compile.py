"""Compile per-row Flux lambdas (`(r) => ...`) to Polars expressions.

`RowFunction` is what `map`, `filter` and other row-wise stdlib functions use: it tries
to translate the lambda body into one Polars expression per output column (whole
columns at a time) and falls back to calling the lambda once per row through the
interpreter when the body uses something the compiler does not know. Both paths
follow Flux's null rules: arithmetic and comparisons with null give null, `and`/`or`
treat null as false, `filter` drops rows whose predicate is null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxError, FluxTypeError
from fluxlab.flux.operators import TypedNull, strip_null
from fluxlab.flux.registry import NativeFunction
from fluxlab.flux.scope import Closure
from fluxlab.flux.table import DURATION_TYPE, TIME_TYPE, flux_kind
from fluxlab.flux.values import Duration, Regex, Time, Unsigned, type_name

if TYPE_CHECKING:
    from fluxlab.flux.context import Context


class NotCompilable(Exception):
    """The lambda body uses something the Polars compiler does not translate."""


@dataclass(slots=True)
class Compiled:
    """A Polars expression and the Flux type of the values it produces."""

    expr: pl.Expr
    kind: str  # int uint float string bool time duration null
    untyped: bool = False  # may be an untyped null (map drops such all-null columns)


# ----------------------------------------------------------------------------- conversions


def kind_of_dtype(dtype: pl.DataType) -> str:
    try:
        return flux_kind(dtype)
    except TypeError:
        raise NotCompilable(f"column type {dtype}") from None


DTYPE_OF_KIND: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "uint": pl.UInt64(),
    "float": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
    "time": TIME_TYPE,
    "duration": DURATION_TYPE,
    "null": pl.Null(),
}


def frame_records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as Flux records (Time, Duration, Unsigned values; nanosecond exact)."""
    converters: dict[str, Callable[[Any], Any]] = {}
    casts = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime):
            casts.append(pl.col(name).dt.epoch("ns").alias(name))
            converters[name] = Time
        elif isinstance(dtype, pl.Duration):
            casts.append(pl.col(name).cast(pl.Int64).alias(name))
            converters[name] = Duration.of_ns
        elif dtype == pl.UInt64:
            converters[name] = Unsigned
    rows = df.with_columns(casts).to_dicts() if casts else df.to_dicts()
    if converters:
        for row in rows:
            for name, conv in converters.items():
                value = row[name]
                if value is not None:
                    row[name] = conv(value)
    return rows


def flux_value_at(series: pl.Series, index: int) -> Any:
    """One cell as a Flux value (Time, Duration, Unsigned; nanosecond exact)."""
    cell = series.slice(index, 1)
    if cell.null_count() or cell.dtype == pl.Null:
        return None
    if isinstance(cell.dtype, pl.Datetime):
        return Time(int(cell.dt.epoch("ns")[0]))
    if isinstance(cell.dtype, pl.Duration):
        return Duration.of_ns(int(cell.cast(pl.Int64)[0]))
    if cell.dtype == pl.UInt64:
        return Unsigned(cell[0])
    return cell[0]


def kind_of_value(value: Any) -> str:
    kind = type_name(value)
    if kind not in DTYPE_OF_KIND:
        raise FluxTypeError(f"a table cell cannot hold a value of type {kind}")
    return kind


def series_from_values(name: str, values: list[Any]) -> pl.Series:
    """A typed column from Flux values (one type besides null, else a type error)."""
    kinds = {
        v.kind if isinstance(v, TypedNull) else kind_of_value(v) for v in values if v is not None
    }
    values = [strip_null(v) for v in values]
    if len(kinds) > 1:
        raise FluxTypeError(
            f"column {name!r} would hold values of different types: {', '.join(sorted(kinds))}"
        )
    kind = kinds.pop() if kinds else "null"
    if kind == "time":
        ints = [None if v is None else v.ns for v in values]
        return pl.Series(name, ints, dtype=pl.Int64).cast(TIME_TYPE)
    if kind == "duration":
        ints = [None if v is None else v.total_ns() for v in values]
        return pl.Series(name, ints, dtype=pl.Int64).cast(DURATION_TYPE)
    if kind == "uint":
        return pl.Series(name, [None if v is None else int(v) for v in values], dtype=pl.UInt64)
    return pl.Series(name, values, dtype=DTYPE_OF_KIND[kind])


def records_frame(
    records: Iterable[dict[str, Any]], columns: list[str] | None = None
) -> pl.DataFrame:
    """A frame from Flux records; columns in first-seen order (missing values are null)."""
    records = list(records)
    if columns is None:
        seen: dict[str, None] = {}
        for rec in records:
            seen.update(dict.fromkeys(rec))
        columns = list(seen)
    return pl.DataFrame([series_from_values(c, [r.get(c) for r in records]) for c in columns])


def literal(value: Any) -> Compiled:
    """A Flux constant as a typed Polars literal."""
    if isinstance(value, TypedNull):
        return Compiled(pl.lit(None, DTYPE_OF_KIND.get(value.kind, pl.Null())), value.kind)
    kind = kind_of_value(value) if value is not None else "null"
    if kind == "time":
        return Compiled(pl.lit(value.ns, pl.Int64).cast(TIME_TYPE), kind)
    if kind == "duration":
        if not value.is_fixed():
            raise NotCompilable("calendar duration")
        return Compiled(pl.lit(value.total_ns(), pl.Int64).cast(DURATION_TYPE), kind)
    if kind == "uint":
        return Compiled(pl.lit(int(value), pl.UInt64), kind)
    return Compiled(pl.lit(value, DTYPE_OF_KIND[kind]), kind)


# ----------------------------------------------------------------------------- row function


class RowFunction:
    """A per-row Flux function applied to whole frames."""

    def __init__(self, ctx: Context, fn: Any, param: str = "r") -> None:
        self.ctx = ctx
        self.fn = fn
        self.param = param

    # -- public API

    def map_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """Apply `(r) => record` to every row; the output columns are the record's."""
        try:
            columns = [(n, c) for n, c in self._compile_record(df) if c.kind != "null"]
            names = [n for n, _ in columns]
            out = df.with_columns([c.expr.alias(n) for n, c in columns]).select(names)
            untyped = [
                n for n, c in columns if c.untyped and out.get_column(n).null_count() == out.height
            ]
            return out.drop(untyped)
        except (NotCompilable, pl.exceptions.PolarsError):
            pass
        if df.height == 0:
            return self._empty_map_output(df)
        outputs = [self._call_row(rec) for rec in frame_records(df)]
        for out in outputs:
            if not isinstance(out, dict):
                raise FluxTypeError(f"map function must return a record, got {type_name(out)}")
        frame = records_frame(outputs)
        return frame.select([c for c, d in frame.schema.items() if d != pl.Null])

    def filter_mask(self, df: pl.DataFrame) -> pl.Series:
        """Boolean mask of rows the predicate keeps (null counts as false)."""
        try:
            compiled = self.compile_value(df)
            if compiled.kind not in ("bool", "null"):
                raise FluxTypeError(f"filter function must return a bool, got {compiled.kind}")
            mask = df.select(compiled.expr.fill_null(False).alias("mask")).get_column("mask")
            if mask.len() != df.height:  # a constant predicate
                mask = pl.Series("mask", [bool(mask[0]) if mask.len() else False] * df.height)
            return mask.cast(pl.Boolean)
        except (NotCompilable, pl.exceptions.PolarsError):
            pass
        values = self.eval_rows(df)
        for v in values:
            if v is not None and not isinstance(v, bool):
                raise FluxTypeError(f"filter function must return a bool, got {type_name(v)}")
        return pl.Series("mask", [bool(v) for v in values], dtype=pl.Boolean)

    def eval_series(self, df: pl.DataFrame, name: str = "value") -> pl.Series:
        """The lambda's scalar result for every row, as one column."""
        try:
            compiled = self.compile_value(df)
            out = df.select(compiled.expr.alias(name)).get_column(name)
            if out.len() == df.height:
                return out
        except (NotCompilable, pl.exceptions.PolarsError):
            pass
        return series_from_values(name, self.eval_rows(df))

    def eval_rows(self, df: pl.DataFrame) -> list[Any]:
        """Row-wise fallback: call the lambda for every row (exact Flux semantics)."""
        return [self._call_row(rec) for rec in frame_records(df)]

    # -- compilation

    def compile_value(self, df: pl.DataFrame) -> Compiled:
        body, scope = self._body_and_scope()
        return _Compiler(self, df.schema, scope).compile(body)

    def _compile_record(self, df: pl.DataFrame) -> list[tuple[str, Compiled]]:
        body, scope = self._body_and_scope()
        compiler = _Compiler(self, df.schema, scope)
        if isinstance(body, ast.Identifier) and body.name == self.param:
            return [(c, compiler.column(c)) for c in df.columns]
        if not isinstance(body, ast.ObjectExpression):
            raise NotCompilable("map body is not a record literal")
        out: dict[str, Compiled] = {}
        if body.with_ is not None:
            if not (isinstance(body.with_, ast.Identifier) and body.with_.name == self.param):
                raise NotCompilable("record extends something other than the row")
            out = {c: compiler.column(c) for c in df.columns}
        for prop in body.properties:
            value = prop.value if prop.value is not None else ast.Identifier(prop.name)
            out[prop.name] = compiler.compile(value)
        return list(out.items())

    def _body_and_scope(self) -> tuple[ast.Expression, Any]:
        fn = self.fn
        if not isinstance(fn, Closure):
            raise NotCompilable("native function")
        body = fn.node.body
        if isinstance(body, ast.Block):
            stmts = body.body
            if len(stmts) != 1 or not isinstance(stmts[0], ast.ReturnStatement):
                raise NotCompilable("block body")
            body = stmts[0].argument
        others = [p for p in fn.params if p != self.param]
        if self.param not in fn.params or any(p not in fn.defaults for p in others):
            raise NotCompilable("unexpected parameters")
        scope = fn.scope.child({p: fn.defaults[p] for p in others})
        return body, scope

    def _call_row(self, record: dict[str, Any]) -> Any:
        return self.ctx.call(self.fn, **{self.param: record})

    def _empty_map_output(self, df: pl.DataFrame) -> pl.DataFrame:
        fn = self.fn
        body = fn.node.body if isinstance(fn, Closure) else None
        if isinstance(body, ast.ObjectExpression):
            base = df if body.with_ is not None else pl.DataFrame()
            extra = [pl.Series(p.name, [], dtype=pl.Null) for p in body.properties]
            return base.with_columns([s for s in extra if s.name not in base.columns])
        return df


# ----------------------------------------------------------------------------- compiler


_NUMERIC = ("int", "uint", "float")


class _Compiler:
    def __init__(self, owner: RowFunction, schema: pl.Schema, scope: Any) -> None:
        self.owner = owner
        self.param = owner.param
        self.schema = schema
        self.scope = scope

    def column(self, name: str) -> Compiled:
        if name not in self.schema:
            return Compiled(pl.lit(None), "null")
        return Compiled(pl.col(name), kind_of_dtype(self.schema[name]))

    def compile(self, node: ast.Expression) -> Compiled:
        if not _uses(node, self.param):
            return self._constant(node)
        method = getattr(self, f"_c_{type(node).__name__}", None)
        if method is None:
            raise NotCompilable(type(node).__name__)
        return method(node)

    def _constant(self, node: ast.Expression) -> Compiled:
        interp = self.owner.ctx.interpreter
        if interp is None:
            raise NotCompilable("no interpreter")
        try:
            value = interp.eval(node, self.scope)
        except FluxError as exc:
            raise NotCompilable(str(exc)) from exc
        if isinstance(value, Regex):
            return Compiled(pl.lit(value.source), "regex")
        try:
            return literal(value)
        except FluxTypeError as exc:
            raise NotCompilable(str(exc)) from exc

    # -- nodes that reference the row

    def _c_MemberExpression(self, node: ast.MemberExpression) -> Compiled:  # noqa: N802
        if isinstance(node.object, ast.Identifier) and node.object.name == self.param:
            return self.column(node.property)
        raise NotCompilable("nested member access")

    def _c_IndexExpression(self, node: ast.IndexExpression) -> Compiled:  # noqa: N802
        if isinstance(node.array, ast.Identifier) and node.array.name == self.param:
            key = self._constant(node.index)
            if key.kind == "string":
                name = self.owner.ctx.interpreter.eval(node.index, self.scope)
                return self.column(name)
        raise NotCompilable("index expression")

    def _c_BinaryExpression(self, node: ast.BinaryExpression) -> Compiled:  # noqa: N802
        left, right = self.compile(node.left), self.compile(node.right)
        op = node.operator
        if op in ("=~", "!~"):
            if left.kind != "string" or right.kind != "regex":
                raise NotCompilable("regex operands")
            found = left.expr.str.contains(right.expr)
            return Compiled(~found if op == "!~" else found, "bool")
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _comparison(op, left, right)
        return _arithmetic(op, left, right)

    def _c_UnaryExpression(self, node: ast.UnaryExpression) -> Compiled:  # noqa: N802
        arg = self.compile(node.argument)
        if node.operator == "exists":
            return Compiled(arg.expr.is_not_null(), "bool")
        if arg.kind == "null":
            return arg
        if node.operator == "not":
            if arg.kind not in ("bool", "null"):
                raise NotCompilable("not on non-bool")
            return Compiled(~arg.expr.cast(pl.Boolean), "bool")
        if node.operator == "-":
            if arg.kind not in ("int", "float", "duration"):
                raise NotCompilable("negation")
            return Compiled(-arg.expr, arg.kind)
        return arg

    def _c_LogicalExpression(self, node: ast.LogicalExpression) -> Compiled:  # noqa: N802
        left, right = self.compile(node.left), self.compile(node.right)
        for side in (left, right):
            if side.kind not in ("bool", "null"):
                raise NotCompilable("logical operand type")
        lhs = left.expr.cast(pl.Boolean)
        rhs = right.expr.cast(pl.Boolean)
        expr = lhs & rhs if node.operator == "and" else lhs | rhs
        return Compiled(expr, "bool", untyped="null" in (left.kind, right.kind))

    def _c_ConditionalExpression(self, node: ast.ConditionalExpression) -> Compiled:  # noqa: N802
        test = self.compile(node.test)
        then, other = self.compile(node.consequent), self.compile(node.alternate)
        if test.kind not in ("bool", "null"):
            raise NotCompilable("condition type")
        kind = _common_kind(then, other)
        if kind is None:
            raise NotCompilable("branch types differ")
        cond = test.expr.cast(pl.Boolean).fill_null(False)
        return Compiled(pl.when(cond).then(then.expr).otherwise(other.expr), kind)

    def _c_StringExpression(self, node: ast.StringExpression) -> Compiled:  # noqa: N802
        parts: list[pl.Expr] = []
        for part in node.parts:
            if isinstance(part, ast.TextPart):
                parts.append(pl.lit(part.value))
            else:
                value = self.compile(part.expression)
                if value.kind == "time":  # interpolation writes all nine fraction digits
                    utc = value.expr.dt.convert_time_zone("UTC")
                    parts.append(utc.dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ"))
                else:
                    parts.append(to_string_expr(value))
        return Compiled(pl.concat_str(parts), "string")

    def _c_CallExpression(self, node: ast.CallExpression) -> Compiled:  # noqa: N802
        if _uses(node.callee, self.param):
            raise NotCompilable("computed callee")
        interp = self.owner.ctx.interpreter
        fn = interp.eval(node.callee, self.scope)
        if not isinstance(fn, NativeFunction):
            raise NotCompilable("call of a non-native function")
        impl = VECTOR_NATIVES.get((fn.package, fn.name))
        if impl is None:
            record_impl = RECORD_NATIVES.get((fn.package, fn.name))
            if record_impl is None:
                raise NotCompilable(f"no vector form of {fn.package}.{fn.name}")
            return record_impl(self.owner.ctx, self._record_args(node))
        props = node.arguments.properties if node.arguments else []
        args = {p.name: self.compile(p.value or ast.Identifier(p.name)) for p in props}
        return impl(args)

    def _record_args(self, node: ast.CallExpression) -> dict[str, Any]:
        """Arguments for a RECORD_NATIVES compiler: constants stay Flux values, record
        literals built from the row become dicts of compiled columns."""
        args: dict[str, Any] = {}
        for prop in node.arguments.properties if node.arguments else []:
            value = prop.value or ast.Identifier(prop.name)
            if not _uses(value, self.param):
                interp = self.owner.ctx.interpreter
                if interp is None:
                    raise NotCompilable("no interpreter")
                try:
                    args[prop.name] = interp.eval(value, self.scope)
                except FluxError as exc:
                    raise NotCompilable(str(exc)) from exc
            elif isinstance(value, ast.ObjectExpression) and value.with_ is None:
                args[prop.name] = {
                    p.name: self.compile(p.value or ast.Identifier(p.name))
                    for p in value.properties
                }
            else:
                args[prop.name] = self.compile(value)
        return args


def _uses(node: Any, name: str) -> bool:
    """Whether an AST subtree refers to identifier `name` (shadowing is ignored)."""
    if isinstance(node, ast.Identifier):
        return node.name == name
    if isinstance(node, ast.FunctionExpression):
        return True  # nested lambdas are not compiled
    if isinstance(node, ast.Node):
        for slot in _slots(type(node)):
            if _uses(getattr(node, slot, None), name):
                return True
    elif isinstance(node, (list, tuple)):
        return any(_uses(item, name) for item in node)
    return False


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slots(cls: type) -> tuple[str, ...]:
    if cls not in _SLOTS:
        names: list[str] = []
        for klass in cls.__mro__:
            names.extend(getattr(klass, "__slots__", ()))
        _SLOTS[cls] = tuple(n for n in names if n not in ("line", "column"))
    return _SLOTS[cls]


def _common_kind(a: Compiled, b: Compiled) -> str | None:
    if a.kind == b.kind:
        return a.kind
    if a.kind == "null":
        return b.kind
    if b.kind == "null":
        return a.kind
    return None


def _comparison(op: str, left: Compiled, right: Compiled) -> Compiled:
    kinds = {left.kind, right.kind}
    if "null" in kinds:
        return Compiled(pl.lit(None, pl.Boolean), "bool")
    if left.kind != right.kind and not kinds <= set(_NUMERIC):
        if op in ("==", "!="):
            return Compiled(pl.lit(op == "!="), "bool")
        raise NotCompilable("comparison of different types")
    if left.kind == "bool" and op not in ("==", "!="):
        raise NotCompilable("ordering of bools")
    a, b = left.expr, right.expr
    if kinds == {"int", "uint"} or (len(kinds) == 2 and "float" in kinds):
        a, b = a.cast(pl.Float64), b.cast(pl.Float64)
    exprs = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
    return Compiled(exprs[op], "bool")


def _arithmetic(op: str, left: Compiled, right: Compiled) -> Compiled:
    kind = _common_kind(left, right)
    if kind == "null" or (kind and "null" in (left.kind, right.kind)):
        return Compiled(pl.lit(None), kind or "null")
    a, b = left.expr, right.expr
    if kind == "string" and op == "+":
        return Compiled(a + b, "string")
    if kind == "float" and op in "+-*/":
        return Compiled({"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op], "float")
    if kind in ("int", "uint") and op in "+-*":
        return Compiled({"+": a + b, "-": a - b, "*": a * b}[op], kind)
    if kind == "duration" and op in "+-":
        return Compiled(a + b if op == "+" else a - b, "duration")
    if left.kind == "time" and right.kind == "duration" and op in "+-":
        return Compiled(a + b if op == "+" else a - b, "time")
    if left.kind == right.kind == "time" and op == "-":
        return Compiled(a - b, "duration")
    raise NotCompilable(f"arithmetic {left.kind} {op} {right.kind}")


# ----------------------------------------------------------------------------- natives


def to_string_expr(c: Compiled) -> pl.Expr:
    """Flux's `string()` conversion of a column (Go float and RFC3339Nano formats)."""
    from fluxlab.flux.results import format_floats, format_times

    if c.kind == "string":
        return c.expr
    if c.kind in ("int", "uint"):
        return c.expr.cast(pl.String)
    if c.kind == "float":
        return format_floats(c.expr)
    if c.kind == "time":
        return format_times(c.expr)
    if c.kind == "bool":
        return pl.when(c.expr).then(pl.lit("true")).otherwise(pl.lit("false"))
    raise NotCompilable(f"string of {c.kind}")


def _arg(args: dict[str, Compiled], name: str = "v") -> Compiled:
    if name not in args:
        raise NotCompilable(f"missing argument {name}")
    return args[name]


def _float_conv(args: dict[str, Compiled]) -> Compiled:
    v = _arg(args)
    if v.kind in ("int", "uint", "float", "string"):
        return Compiled(v.expr.cast(pl.Float64, strict=True), "float")
    if v.kind == "bool":
        return Compiled(v.expr.cast(pl.Float64), "float")
    raise NotCompilable("float()")


def _int_conv(args: dict[str, Compiled]) -> Compiled:
    v = _arg(args)
    if v.kind in ("int", "uint", "float", "bool"):
        return Compiled(v.expr.cast(pl.Int64, strict=True), "int")
    if v.kind == "time":
        return Compiled(v.expr.dt.epoch("ns"), "int")
    if v.kind == "duration":
        return Compiled(v.expr.cast(pl.Int64), "int")
    raise NotCompilable("int()")


def _string_conv(args: dict[str, Compiled]) -> Compiled:
    v = _arg(args)
    return Compiled(to_string_expr(v), "string")


NativeCompiler = Callable[[dict[str, Compiled]], Compiled]


def _string_unary(method: Callable[[pl.Expr], pl.Expr]) -> NativeCompiler:
    def impl(args: dict[str, Compiled]) -> Compiled:
        v = _arg(args)
        if v.kind != "string":
            raise NotCompilable("string function on non-string")
        return Compiled(method(v.expr), "string")

    return impl


def _string_pred(
    method: Callable[[pl.Expr, pl.Expr], pl.Expr], other: str
) -> NativeCompiler:
    def impl(args: dict[str, Compiled]) -> Compiled:
        v, o = _arg(args), _arg(args, other)
        if v.kind != "string" or o.kind != "string":
            raise NotCompilable("string predicate types")
        return Compiled(method(v.expr, o.expr), "bool")

    return impl


VECTOR_NATIVES: dict[tuple[str, str], NativeCompiler] = {
    ("universe", "float"): _float_conv,
    ("universe", "int"): _int_conv,
    ("universe", "string"): _string_conv,
    ("strings", "toUpper"): _string_unary(lambda e: e.str.to_uppercase()),
    ("strings", "toLower"): _string_unary(lambda e: e.str.to_lowercase()),
    ("strings", "trimSpace"): _string_unary(lambda e: e.str.strip_chars()),
    ("strings", "hasPrefix"): _string_pred(lambda v, p: v.str.starts_with(p), "prefix"),
    ("strings", "hasSuffix"): _string_pred(lambda v, s: v.str.ends_with(s), "suffix"),
    ("strings", "containsStr"): _string_pred(
        lambda v, s: v.str.contains(s, literal=True), "substr"
    ),
}


# Natives whose arguments include records (e.g. geo.ST_Distance(region: p, geometry:
# {lat: r.lat, lon: r.lon})): the compiler receives the query context and arguments
# that are Flux constants, Compiled columns, or dicts of Compiled (record literals
# built from the row). Registered by the stdlib module that owns the function.
RecordNativeCompiler = Callable[["Context", dict[str, Any]], Compiled]
RECORD_NATIVES: dict[tuple[str, str], RecordNativeCompiler] = {}


def register_record_native(package: str, name: str, impl: RecordNativeCompiler) -> None:
    """Let `map`/`filter` run `package.name` over whole columns (see RECORD_NATIVES)."""
    RECORD_NATIVES[(package, name)] = impl
