"""InfluxDB extended annotated CSV: what each column is, from annotations and the header.

Follows the rules of `influx write --format csv` (InfluxDB's csv2lp):

* `#datatype` gives each column a type: `measurement`, `tag`, `field`, `ignored`
  (`ignore`), `time`/`dateTime[:RFC3339|RFC3339Nano|number|<Go layout>]`, or a field
  type `double[:format]`, `long[:format]`, `unsignedLong[:format]`, `boolean[:true:false]`,
  `string`. `#default` gives values for empty cells; `#group true` makes a column a
  tag unless its type says otherwise (Flux query output).
* The header may carry the type and default itself: `name|long`, `t|tag`,
  `_time|dateTime:number`, `count|long|0`.
* `#constant datatype,label,value` adds a column with one value for every row
  (`#constant measurement,m` and `#constant dateTime,value` need no label);
  `#timezone +hhmm|-hhmm|Local|<IANA>` sets the zone of times without an offset.
* Labels `_measurement`, `_time`, `_field`, `_value` have their Flux meaning; with a
  `_field` column, columns of no explicit role are ignored (csv2lp) — except in
  plain Flux output without a `#group` row, where they are taken as tags, since
  that is the only place the series' tags can be (documented deviation).
* Fields with no type (`field`, or no `#datatype` at all) are typed per block:
  float if every value is a number, boolean if every value is a boolean, else string.
* `dateTime:number` and type-less times that are numbers are in the write precision.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import polars as pl
import pyarrow as pa

from fluxlab.ingest.readers.base import ReaderError
from fluxlab.ingest.rowplan import FieldPlan, RowPlan, TagPlan
from fluxlab.ingest.transforms import FALSE_WORDS, TRUE_WORDS
from fluxlab.model.points import FieldType
from fluxlab.model.timeparse import (
    NS_PER_UNIT,
    TimeFormatError,
    check_timezone,
    go_layout_to_strftime,
    local_zone_name,
    parse_epoch,
    parse_times,
)

COLUMN_ANNOTATIONS = ("#group", "#datatype", "#default")
TABLE_ANNOTATIONS = ("#constant", "#timezone")
FLUX_IGNORED_LABELS = frozenset({"result", "table", "_start", "_stop"})

_FIELD_TYPES: dict[str, FieldType] = {
    "double": FieldType.FLOAT,
    "long": FieldType.INTEGER,
    "unsignedLong": FieldType.UNSIGNED,
    "boolean": FieldType.BOOLEAN,
    "string": FieldType.STRING,
}
_ROLES = {"tag": "tag", "measurement": "measurement", "field": "field", "time": "time",
          "dateTime": "time"}


@dataclass
class Column:
    """One CSV column (index >= 0) or a `#constant` column (index -1, value in `default`)."""

    label: str = ""
    datatype: str = ""
    format: str = ""
    default: str = ""
    role: str = ""  # "", tag, field, time, measurement, ignored
    index: int = -1

    def set_datatype(self, text: str) -> None:
        """Parse `type`, `type:format`, `type|default`, `type:format|default` (csv2lp)."""
        text = strip_annotation_name(text)
        pipe = text.find("|")
        if pipe > 1:
            if not self.default:
                self.default = text[pipe + 1 :]
            text = text[:pipe]
        colon = text.find(":")
        if colon > 1:
            self.format = text[colon + 1 :]
            text = text[:colon]
        if text.startswith("ignore"):
            self.role = "ignored"
        elif text in _ROLES:
            self.role = _ROLES[text]
        if text == "time":
            text = "dateTime"
        if text == "field":
            text = ""
        self.datatype = text


def strip_annotation_name(value: str) -> str:
    """`#datatype measurement` → `measurement`; `#datatype` → `` (first cell of a row)."""
    if value.startswith("#"):
        space = value.find(" ")
        return value[space + 1 :].lstrip(" ") if space > 0 else ""
    return value


def split_row(text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])


def annotation_kind(first_cell: str) -> str | None:
    """The annotation a row starts with, or None for a comment / unknown annotation."""
    lowered = first_cell.lower()
    for name in (*COLUMN_ANNOTATIONS, *TABLE_ANNOTATIONS):
        if lowered.startswith(name) and (len(lowered) == len(name) or lowered[len(name)] == " "):
            return name
    return None


@dataclass
class TableSpec:
    """Annotations of one table, then its header; builds the RowPlan for its data."""

    source: str
    precision_ns: int = 1
    now_ns: int = 0
    columns: list[Column] = field(default_factory=list)
    constants: list[Column] = field(default_factory=list)
    timezone: str | None = None
    has_group: bool = False
    has_column_annotations: bool = False

    def add_annotation(self, row: list[str], line: int) -> bool:
        """Apply one annotation row; False when the row is a comment (counted as skipped)."""
        kind = annotation_kind(row[0]) if row else None
        if kind is None:
            return False
        if kind == "#timezone":
            self._set_timezone(row, line)
        elif kind == "#constant":
            self._add_constant(row)
        else:
            self._add_column_annotation(kind, row)
        return True

    def _set_timezone(self, row: list[str], line: int) -> None:
        value = strip_annotation_name(row[0]) or (row[1] if len(row) > 1 else "")
        value = value.strip()
        if value.lower() == "local":
            value = local_zone_name()
        try:
            self.timezone = check_timezone(value or None)
        except TimeFormatError as exc:
            raise ReaderError(f"{self.source}:{line}: #timezone: {exc}") from exc

    def _add_constant(self, row: list[str]) -> None:
        col = Column()
        col.set_datatype(row[0])
        at = 0
        if not col.datatype and not col.role:
            at = 1
            if len(row) > 1:
                col.set_datatype(row[1])
        if len(row) > at + 1:
            col.label = row[at + 1]
        if len(row) > at + 2:
            col.default = row[at + 2]
        if col.role in ("measurement", "time") and not col.default and col.label:
            col.default, col.label = col.label, f"#constant {col.datatype}"
        elif not col.label:
            col.label = f"#constant {col.datatype}"
        self.constants.append(col)

    def _add_column_annotation(self, kind: str, row: list[str]) -> None:
        self.has_column_annotations = True
        while len(self.columns) < len(row):
            self.columns.append(Column(index=len(self.columns)))
        for col, cell in zip(self.columns, row, strict=False):
            if kind == "#datatype":
                col.set_datatype(cell)
            elif kind == "#default":
                col.default = strip_annotation_name(cell)
            elif kind == "#group":
                self.has_group = True
                if strip_annotation_name(cell).endswith("true") and not col.role:
                    col.role = "tag"

    def set_header(self, labels: list[str]) -> None:
        """Assign labels; `name|type|default` in a label sets the type when no #datatype did."""
        while len(self.columns) < len(labels):
            self.columns.append(Column(index=len(self.columns)))
        for col, label in zip(self.columns, labels, strict=False):
            if not col.datatype and "|" in label:
                name, _, typed = label.partition("|")
                col.label = name
                col.set_datatype(typed)
            else:
                col.label = label

    def new_table(self) -> TableSpec:
        """Column annotations after data start a new table; the time zone carries over."""
        return TableSpec(self.source, self.precision_ns, self.now_ns, timezone=self.timezone)

    # -- building the row plan ------------------------------------------------------

    def row_plan(self, raw_names: list[str], sample: pa.RecordBatch) -> RowPlan:
        """Plan for the data columns `raw_names` (positional) given a block for type inference."""
        cols = [replace(c) for c in self.columns] + [replace(c) for c in self.constants]
        has_field_name = any(c.label == "_field" for c in cols)
        measurement = time = field_name = field_value = None
        tags: dict[str, Column] = {}
        fields: list[Column] = []
        for col in cols:
            if col.label == "_measurement" or col.role == "measurement":
                measurement = col
            elif col.label == "_time" or col.role == "time":
                time = col
            elif not col.label.strip() or col.role == "ignored":
                continue
            elif not col.datatype and not col.role and col.label in FLUX_IGNORED_LABELS:
                continue  # Flux's result/table/_start/_stop carry no point data
            elif col.label == "_field":
                field_name = col
            elif col.label == "_value":
                field_value = col
            elif col.role == "tag":
                tags[col.label] = col
            elif col.role == "field" or not has_field_name:
                fields.append(col)
            elif not self.has_group and not self._flux_ignored(col):
                tags[col.label] = col  # plain Flux output: see module docstring
        if measurement is None:
            raise ReaderError(
                f"{self.source}: no measurement column; add a `#constant measurement,NAME` "
                "row, a column of datatype `measurement`, or a `_measurement` column"
            )

        def expr(col: Column) -> pl.Expr:
            if col.index < 0 or col.index >= len(raw_names):
                value = col.default
                return pl.lit(value if value else None, pl.String)
            raw = pl.col(raw_names[col.index])
            if col.default:
                raw = pl.when(raw == "").then(pl.lit(col.default)).otherwise(raw)
            return pl.when(raw == "").then(None).otherwise(raw)

        field_plans = []
        if field_name is not None and field_value is not None:
            field_plans.append(self._field_plan(field_value, expr, sample, raw_names))
        field_plans.extend(self._field_plan(c, expr, sample, raw_names) for c in fields)
        if not field_plans:
            raise ReaderError(f"{self.source}: no field columns; mark at least one column as a field")
        return RowPlan(
            tags=[TagPlan(label, label, expr(col)) for label, col in sorted(tags.items())],
            fields=field_plans,
            time_raw=expr(time) if time is not None else None,
            time_source=time.label if time is not None else "time",
            time_parser=self._time_parser(time) if time is not None else None,
            time_hint=f"expected dateTime:{time.format or 'number or RFC3339'}" if time else "",
            measurement_raw=expr(measurement),
            measurement_source=measurement.label,
            field_name_raw=expr(field_name) if field_name is not None and field_value else None,
            field_name_source="_field",
            default_time_ns=self.now_ns,
            raw_columns=tuple(raw_names),
            used_columns=tuple(raw_names),
        )

    @staticmethod
    def _flux_ignored(col: Column) -> bool:
        return col.label in FLUX_IGNORED_LABELS or col.label.startswith("_")

    def _field_plan(
        self,
        col: Column,
        expr: Callable[[Column], pl.Expr],
        sample: pa.RecordBatch,
        raw_names: list[str],
    ) -> FieldPlan:
        if col.datatype in ("", "field"):
            name = raw_names[col.index] if 0 <= col.index < len(raw_names) else None
            frame = pl.from_arrow(pa.table({name: sample.column(name)})) if name else None
            ftype = _infer_type(frame, expr(col)) if isinstance(frame, pl.DataFrame) else (
                FieldType.STRING
            )
            return FieldPlan(col.label, col.label, expr(col), ftype)
        if col.datatype not in _FIELD_TYPES:
            raise ReaderError(
                f"{self.source}: column {col.label!r}: data type {col.datatype!r} is not "
                f"supported; use one of {', '.join(_FIELD_TYPES)}, tag, measurement, "
                "dateTime, field or ignored"
            )
        ftype = _FIELD_TYPES[col.datatype]
        return FieldPlan(col.label, col.label, expr(col), ftype, _prepare(ftype, col.format))

    def _time_parser(self, col: Column) -> Callable[[pl.Series], pl.Series]:
        fmt, zone, unit = col.format, self.timezone, self.precision_ns
        if fmt == "number":
            return lambda raw: parse_epoch(raw, unit)
        if fmt in ("RFC3339", "RFC3339Nano"):
            return lambda raw: parse_times(raw, "rfc3339", timezone=zone)
        if fmt == "":
            return lambda raw: parse_epoch(raw, unit).fill_null(
                parse_times(raw, "rfc3339", timezone=zone)
            )
        layout = go_layout_to_strftime(fmt)
        return lambda raw: parse_times(raw, layout, timezone=zone)


def _prepare(ftype: FieldType, fmt: str) -> Callable[[pl.Expr], pl.Expr] | None:
    """Numeric formats (`double:,.`: decimal char then ignored chars) and boolean word lists."""
    if ftype is FieldType.BOOLEAN:
        return _boolean_prepare(fmt)
    if ftype in (FieldType.FLOAT, FieldType.INTEGER, FieldType.UNSIGNED) and fmt:
        decimal, ignored = fmt[0], fmt[1:]

        def numeric(raw: pl.Expr) -> pl.Expr:
            for ch in ignored:
                raw = raw.str.replace_all(ch, "", literal=True)
            if ftype is not FieldType.FLOAT:
                return raw.str.split(decimal).list.first()
            return raw.str.replace_all(decimal, ".", literal=True) if decimal != "." else raw

        return numeric
    return None


def _boolean_prepare(fmt: str) -> Callable[[pl.Expr], pl.Expr]:
    if not fmt:
        def first_letter(raw: pl.Expr) -> pl.Expr:
            first = raw.str.slice(0, 1)
            return (
                pl.when(first.is_in(list("tTyY1"))).then(pl.lit("true"))
                .when(first.is_in(list("fFnN0"))).then(pl.lit("false"))
                .otherwise(raw)
            )
        return first_letter
    truthy_text, _, falsy_text = fmt.partition(":")
    truthy = [v for v in truthy_text.split(",") if v]
    falsy = [v for v in falsy_text.split(",") if v]

    def word_lists(raw: pl.Expr) -> pl.Expr:
        is_true = raw.is_in(truthy) if truthy else ~raw.is_in(falsy)
        is_false = raw.is_in(falsy) if falsy else ~raw.is_in(truthy)
        return pl.when(is_true).then(pl.lit("true")).when(is_false).then(pl.lit("false")).otherwise(raw)

    return word_lists


def _infer_type(sample: pl.DataFrame, raw: pl.Expr) -> FieldType:
    """Type of an untyped column from one block's values (see module docstring)."""
    values = sample.select(raw.alias("v")).get_column("v").drop_nulls()
    if values.len() == 0:
        return FieldType.STRING
    if values.cast(pl.Float64, strict=False).null_count() == 0:
        return FieldType.FLOAT
    if values.str.to_lowercase().is_in([*TRUE_WORDS, *FALSE_WORDS]).all():
        return FieldType.BOOLEAN
    return FieldType.STRING


__all__ = ["NS_PER_UNIT", "Column", "TableSpec", "annotation_kind", "split_row"]
