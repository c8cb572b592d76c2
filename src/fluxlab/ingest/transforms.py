"""Column transforms as Polars expressions: cleaning raw strings and casting them to field types.

Everything here is an expression over a whole column, so a 5-million-row file costs a
handful of vectorized passes. Casts never raise: a value that does not convert becomes
null, and `conversion_failed` tells the caller which rows to reject (the raw value was
present but the typed value is missing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from fluxlab.model.points import FieldType

FIELD_TYPE_NAMES: dict[str, FieldType] = {
    "float": FieldType.FLOAT,
    "double": FieldType.FLOAT,
    "integer": FieldType.INTEGER,
    "int": FieldType.INTEGER,
    "long": FieldType.INTEGER,
    "unsigned": FieldType.UNSIGNED,
    "uint": FieldType.UNSIGNED,
    "unsignedlong": FieldType.UNSIGNED,
    "string": FieldType.STRING,
    "str": FieldType.STRING,
    "boolean": FieldType.BOOLEAN,
    "bool": FieldType.BOOLEAN,
}
"""Accepted type names (case-insensitive), including InfluxDB's annotated-CSV spellings."""

TRUE_WORDS = ("true", "t", "yes", "y", "1", "on")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off")

_POLARS_TYPES: dict[FieldType, pl.DataType] = {
    FieldType.FLOAT: pl.Float64(),
    FieldType.INTEGER: pl.Int64(),
    FieldType.UNSIGNED: pl.UInt64(),
    FieldType.STRING: pl.String(),
    FieldType.BOOLEAN: pl.Boolean(),
}


def parse_field_type(name: str) -> FieldType:
    """A type name from a mapping or annotation → FieldType, or a ValueError listing choices."""
    key = name.strip().lower()
    if key in FIELD_TYPE_NAMES:
        return FIELD_TYPE_NAMES[key]
    choices = "float, integer, unsigned, string, boolean"
    raise ValueError(f"unknown field type {name!r}: use one of {choices}")


def polars_type(ftype: FieldType) -> pl.DataType:
    return _POLARS_TYPES[ftype]


def clean(
    expr: pl.Expr,
    *,
    trim: bool = False,
    fixes: Mapping[str, str] | None = None,
    nulls: Sequence[str] = (),
) -> pl.Expr:
    """Trim, then apply value fixes (raw → replacement), then turn null markers into null.

    Fixes come before null markers so a fix may map a value *to* a null marker
    (e.g. `"unknown" = ""`) and still end up null.
    """
    if trim:
        expr = expr.str.strip_chars()
    if fixes:
        expr = expr.replace(list(fixes.keys()), list(fixes.values()))
    if nulls:  # `replace` reads `expr` once (a when/otherwise would strip twice)
        expr = expr.replace(list(nulls), [None] * len(nulls))
    return expr


def extract(expr: pl.Expr, pattern: str, group: int = 1) -> pl.Expr:
    """Keep one regex capture group of each value (e.g. latitude out of "(41.7, -72.6)")."""
    return expr.str.extract(pattern, group)


def cast_to(expr: pl.Expr, ftype: FieldType) -> pl.Expr:
    """Cast a string expression to a field type; failures become null (see module doc)."""
    if ftype is FieldType.STRING:
        return expr
    if ftype is FieldType.BOOLEAN:
        lowered = expr.str.to_lowercase()
        return (
            pl.when(lowered.is_in(TRUE_WORDS))
            .then(pl.lit(True))
            .when(lowered.is_in(FALSE_WORDS))
            .then(pl.lit(False))
            .otherwise(pl.lit(None, pl.Boolean))
        )
    if ftype is FieldType.FLOAT:
        value = expr.cast(pl.Float64, strict=False)
        return pl.when(value.is_finite()).then(value).otherwise(pl.lit(None, pl.Float64))
    return expr.cast(polars_type(ftype), strict=False)


def conversion_failed(raw: pl.Expr, typed: pl.Expr) -> pl.Expr:
    """True where a value was given but did not convert."""
    return raw.is_not_null() & typed.is_null()


def type_error_reason(ftype: FieldType) -> str:
    """Why a value was rejected, and what to do about it."""
    hints = {
        FieldType.FLOAT: "not a finite number (NaN/Inf are not allowed by InfluxDB)",
        FieldType.INTEGER: "not an integer (use type float for decimals, or add a fix)",
        FieldType.UNSIGNED: "not an unsigned integer",
        FieldType.BOOLEAN: f"not a boolean (true: {'/'.join(TRUE_WORDS)}; "
        f"false: {'/'.join(FALSE_WORDS)})",
        FieldType.STRING: "not a string",
    }
    return f"{hints[ftype]}; fix the value, declare another type, or map it with a fix/null marker"


def csv_quote(expr: pl.Expr, delimiter: str = ",") -> pl.Expr:
    """Quote a value for a CSV line when it holds the delimiter, a quote or a newline."""
    needs = expr.str.contains(f"[{_class_escape(delimiter)}\"\n\r]")
    quoted = pl.lit('"') + expr.str.replace_all('"', '""', literal=True) + pl.lit('"')
    return pl.when(needs).then(quoted).otherwise(expr).fill_null("")


def _class_escape(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else ch


def raw_line(columns: Sequence[str], delimiter: str = ",") -> pl.Expr:
    """Rebuild a CSV line from raw string columns (for the rejects file)."""
    return pl.concat_str([csv_quote(pl.col(c), delimiter) for c in columns], separator=delimiter)
