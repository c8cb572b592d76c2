"""Points, field types and the columnar batch every layer passes around.

A `PointBatch` holds the points of one measurement as an Arrow table: a non-null
`time` column (int64 nanoseconds since the Unix epoch, UTC), one nullable string
column per tag key and one nullable typed column per field key. Tag and field names
are kept in the batch so a column's role is never guessed from its type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pyarrow as pa

TIME_COLUMN = "time"
"""Name of the timestamp column in batches and in stored measurement tables."""


class FieldType(enum.StrEnum):
    """InfluxDB's five field types (line protocol: 1.0, 1i, 1u, "s", true)."""

    FLOAT = "float"
    INTEGER = "integer"
    UNSIGNED = "unsigned"
    STRING = "string"
    BOOLEAN = "boolean"

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self]

    @classmethod
    def from_arrow(cls, dtype: pa.DataType) -> FieldType:
        for ftype, atype in _ARROW_TYPES.items():
            if atype == dtype:
                return ftype
        if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
            return cls.STRING
        raise TypeError(f"no InfluxDB field type for Arrow type {dtype}")


_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.FLOAT: pa.float64(),
    FieldType.INTEGER: pa.int64(),
    FieldType.UNSIGNED: pa.uint64(),
    FieldType.STRING: pa.string(),
    FieldType.BOOLEAN: pa.bool_(),
}


class Unsigned(int):
    """Marks a Python int as an unsigned field value (line protocol suffix `u`)."""

    def __new__(cls, value: int) -> Unsigned:
        if value < 0 or value >= 2**64:
            raise ValueError(f"unsigned value out of range: {value}")
        return super().__new__(cls, value)


FieldValue = float | int | Unsigned | str | bool


def field_type_of(value: FieldValue) -> FieldType:
    """The InfluxDB field type of a Python value (bool before int: bool is an int)."""
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, Unsigned):
        return FieldType.UNSIGNED
    if isinstance(value, int):
        return FieldType.INTEGER
    if isinstance(value, float):
        return FieldType.FLOAT
    if isinstance(value, str):
        return FieldType.STRING
    raise TypeError(f"unsupported field value {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class Point:
    """One point: measurement, tag set, typed fields and a nanosecond timestamp.

    `time` is None when the source gave none (writers then use "now").
    """

    measurement: str
    fields: dict[str, FieldValue]
    tags: dict[str, str] = field(default_factory=dict)
    time: int | None = None


@dataclass(frozen=True)
class PointBatch:
    """Points of one measurement in columnar form; see the module docstring."""

    measurement: str
    table: pa.Table
    tags: tuple[str, ...]
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        names = set(self.table.column_names)
        missing = ({TIME_COLUMN, *self.tags, *self.fields}) - names
        if missing:
            raise ValueError(f"batch is missing columns {sorted(missing)}")
        clash = set(self.tags) & set(self.fields)
        if clash:
            raise ValueError(f"keys used as both tag and field: {sorted(clash)}")

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def field_types(self) -> dict[str, FieldType]:
        schema = self.table.schema
        return {f: FieldType.from_arrow(schema.field(f).type) for f in self.fields}
