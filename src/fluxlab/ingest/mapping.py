"""Mapping files: how a generic CSV becomes points (TOML, validated before any row is read).

Example (the Hartford police incidents file)::

    measurement = "incidents"             # or: measurement_column = "Type"
    geo = { point = "geom", level = 10 }  # s2_cell_id tag from "(lat, lon)" (or lat=, lon=);
                                          # rows with bad coordinates are rejected

    [csv]                                 # optional
    delimiter = ","
    skip_lines = 0                        # lines before the header (titles, notes)

    [time]
    columns = ["Date", "Time_24HR"]       # or: column = "Date"; several are joined by a space
    format = "%m/%d/%Y %H%M"              # strftime, or rfc3339 | date | epoch_s|ms|us|ns
    timezone = "America/New_York"         # naive local times → UTC, DST-correct

    [tags]
    neighborhood = "Neighborhood"         # tag key = column
    category = { column = "UCR_1_Category", fix = { "N/A" = "" } }

    [fields]
    case_number = { column = "Case_Number", type = "string" }
    total = { column = "Total", type = "integer", fix = { "<6" = "5" } }
    lat = { column = "geom", type = "float", extract = '^\\(([-0-9.]+),' }  # keeps group 1
    code = "UCR_1_Code"                   # bare column name: a string field

    [clean]
    trim = true                           # strip spaces around every value
    null = ["", "NA", "N/A"]              # values meaning "no value"
    ignore = ["Address"]                  # columns deliberately not loaded

`extract` keeps one capture group (`group = 1` by default) of each value; anchor the
pattern (`^`, `$`) where you can, it is much faster on millions of rows. Columns not
named anywhere are ignored too; `ignore` documents the intent and is
checked against the header like every other column name. Problems in the mapping
(unknown column, zone, type or format) raise `MappingError` naming the mapping file,
the key and what to do, before the data is touched.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fluxlab.ingest.geotag import GeoSpec, geo_plan
from fluxlab.ingest.rowplan import FieldPlan, RowPlan, TagPlan
from fluxlab.ingest.transforms import clean, extract, parse_field_type
from fluxlab.model.points import FieldType
from fluxlab.model.timeparse import TimeFormatError, check_format, check_timezone, parse_times


class MappingError(ValueError):
    """The mapping file cannot be used as written."""


@dataclass(frozen=True)
class ColumnSpec:
    """One tag or field: which column, how to clean it, and (fields) its type."""

    key: str
    column: str
    ftype: FieldType = FieldType.STRING
    fixes: dict[str, str] = field(default_factory=dict)
    extract: str | None = None
    group: int = 1


@dataclass(frozen=True)
class TimeSpec:
    columns: tuple[str, ...]
    format: str
    timezone: str | None


@dataclass(frozen=True)
class Mapping:
    """A parsed, self-consistent mapping (header checks happen in `validate_header`)."""

    origin: str
    time: TimeSpec | None
    tags: tuple[ColumnSpec, ...]
    fields: tuple[ColumnSpec, ...]
    measurement: str | None = None
    measurement_column: str | None = None
    trim: bool = True
    nulls: tuple[str, ...] = ("",)
    ignore: tuple[str, ...] = ()
    delimiter: str = ","
    skip_lines: int = 0
    geo: GeoSpec | None = None

    def columns_used(self) -> list[str]:
        used: list[str] = []
        if self.measurement_column:
            used.append(self.measurement_column)
        if self.time:
            used.extend(self.time.columns)
        used.extend(s.column for s in (*self.tags, *self.fields))
        if self.geo is not None:
            used.extend(self.geo.columns())
        used.extend(self.ignore)
        return used

    def validate_header(self, header: list[str], source: str) -> None:
        """Every column the mapping names must be in the file's header."""
        missing = [c for c in dict.fromkeys(self.columns_used()) if c not in header]
        if missing:
            names = ", ".join(repr(c) for c in missing)
            raise MappingError(
                f"{self.origin}: column(s) {names} not found in the header of {source}; "
                f"the header has: {', '.join(header)}. Fix the names in the mapping "
                "(they are case-sensitive) or set [csv] skip_lines if the header is further down."
            )

    def row_plan(self, header: list[str]) -> RowPlan:
        """Polars expressions for every output column (see ingest.rowplan)."""

        # Trimming is done by apply_plan on the raw columns (plan.trim), once per column
        # and only in blocks where some value has surrounding whitespace.
        def cleaned(spec: ColumnSpec) -> pl.Expr:
            expr = clean(pl.col(spec.column), fixes=spec.fixes, nulls=self.nulls)
            if spec.extract:
                expr = extract(expr, spec.extract, spec.group)
            return expr

        time_raw = None
        if self.time is not None:
            parts = [clean(pl.col(c), nulls=self.nulls) for c in self.time.columns]
            time_raw = parts[0] if len(parts) == 1 else pl.concat_str(parts, separator=" ")
        time_spec = self.time
        tags = [TagPlan(s.key, s.column, cleaned(s)) for s in self.tags]
        geo = geo_plan(self.geo, nulls=self.nulls) if self.geo else None
        return RowPlan(
            tags=[*tags, geo.tag] if geo else tags,
            fields=[FieldPlan(s.key, s.column, cleaned(s), s.ftype) for s in self.fields],
            time_raw=time_raw,
            time_source="+".join(time_spec.columns) if time_spec else "time",
            time_parser=(
                (lambda raw: parse_times(raw, time_spec.format, timezone=time_spec.timezone))
                if time_spec
                else None
            ),
            time_hint=(
                f"expected format {time_spec.format!r} (mapping [time] format)" if time_spec else ""
            ),
            measurement=self.measurement,
            measurement_raw=(
                clean(pl.col(self.measurement_column), nulls=self.nulls)
                if self.measurement_column
                else None
            ),
            measurement_source=self.measurement_column or "measurement",
            raw_columns=tuple(header),
            used_columns=tuple(dict.fromkeys(c for c in self.columns_used() if c not in self.ignore)),
            delimiter=self.delimiter,
            trim=self.trim,
            extra_columns=geo.extra_columns if geo else [],
            extra_checks=geo.checks if geo else [],
        )


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a TOML mapping file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from exc
    return mapping_from_dict(data, origin=str(path))


_TOP_KEYS = {"measurement", "measurement_column", "time", "tags", "fields", "clean", "csv", "geo"}


def mapping_from_dict(data: MappingABC[str, Any], origin: str = "<mapping>") -> Mapping:
    """Build a Mapping from already-parsed TOML (also used by dataset recipes)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise MappingError(f"{origin}: unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    measurement = data.get("measurement")
    measurement_column = data.get("measurement_column")
    if bool(measurement) == bool(measurement_column):
        raise MappingError(
            f"{origin}: set exactly one of measurement = \"name\" or measurement_column = \"Column\""
        )
    fields = tuple(_column_specs(data.get("fields", {}), "fields", origin))
    if not fields:
        raise MappingError(f"{origin}: [fields] is empty; a point needs at least one field")
    tags = tuple(_column_specs(data.get("tags", {}), "tags", origin))
    clash = {s.key for s in tags} & {s.key for s in fields}
    if clash:
        raise MappingError(f"{origin}: keys used as both tag and field: {sorted(clash)}")
    geo = _geo_spec(data.get("geo"), origin)
    if geo is not None and geo.tag in {s.key for s in (*tags, *fields)}:
        raise MappingError(
            f"{origin}: geo writes the tag {geo.tag!r}, which [tags]/[fields] already define; "
            "remove one or set geo tag = \"other_name\""
        )
    cleaning = _table(data.get("clean", {}), "clean", origin)
    csv_opts = _table(data.get("csv", {}), "csv", origin)
    delimiter = str(csv_opts.get("delimiter", ","))
    if len(delimiter) != 1:
        raise MappingError(f"{origin}: [csv] delimiter must be one character, got {delimiter!r}")
    return Mapping(
        origin=origin,
        time=_time_spec(data.get("time"), origin),
        tags=tags,
        fields=fields,
        measurement=measurement,
        measurement_column=measurement_column,
        trim=bool(cleaning.get("trim", True)),
        nulls=tuple(str(v) for v in cleaning.get("null", [""])),
        ignore=tuple(str(v) for v in cleaning.get("ignore", [])),
        delimiter=delimiter,
        skip_lines=int(csv_opts.get("skip_lines", 0)),
        geo=geo,
    )


_GEO_KEYS = {"lat", "lon", "point", "level", "tag"}


def _geo_spec(value: Any, origin: str) -> GeoSpec | None:
    """`geo = {lat = "..", lon = "..", level = 10}` or `geo = {point = "geom", level = 10}`."""
    if value is None:
        return None
    table = _table(value, "geo", origin)
    unknown = sorted(set(table) - _GEO_KEYS)
    if unknown:
        raise MappingError(f"{origin}: geo: unknown key(s) {unknown}; allowed: {sorted(_GEO_KEYS)}")
    level = table.get("level", 10)
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 30:
        raise MappingError(f"{origin}: geo level must be an integer from 0 to 30, got {level!r}")
    point, lat, lon = table.get("point"), table.get("lat"), table.get("lon")
    if bool(point) == bool(lat or lon) or (not point and not (lat and lon)):
        raise MappingError(
            f"{origin}: geo needs either lat = \"Column\" and lon = \"Column\", or "
            "point = \"Column\" holding \"(lat, lon)\""
        )
    tag = str(table.get("tag", "s2_cell_id"))
    return GeoSpec(level=level, lat=lat and str(lat), lon=lon and str(lon),
                   point=point and str(point), tag=tag)


def _table(value: Any, name: str, origin: str) -> MappingABC[str, Any]:
    if not isinstance(value, MappingABC):
        raise MappingError(f"{origin}: [{name}] must be a table")
    return value


def _time_spec(value: Any, origin: str) -> TimeSpec | None:
    if value is None:
        return None
    table = _table(value, "time", origin)
    columns = table.get("columns") or ([table["column"]] if "column" in table else [])
    if isinstance(columns, str):
        columns = [columns]
    if not columns:
        raise MappingError(f"{origin}: [time] needs column = \"...\" or columns = [...]")
    fmt = str(table.get("format", "rfc3339"))
    try:
        check_format(fmt)
        timezone = check_timezone(table.get("timezone"))
    except TimeFormatError as exc:
        raise MappingError(f"{origin}: [time] {exc}") from exc
    return TimeSpec(tuple(str(c) for c in columns), fmt, timezone)


def _column_specs(value: Any, section: str, origin: str) -> list[ColumnSpec]:
    specs = []
    for key, spec in _table(value, section, origin).items():
        if isinstance(spec, str):
            specs.append(ColumnSpec(key=key, column=spec))
            continue
        entry = _table(spec, f"{section}.{key}", origin)
        if "column" not in entry:
            raise MappingError(f"{origin}: [{section}] {key} needs column = \"...\"")
        ftype = FieldType.STRING
        if section == "fields":
            try:
                ftype = parse_field_type(str(entry.get("type", "string")))
            except ValueError as exc:
                raise MappingError(f"{origin}: [fields] {key}: {exc}") from exc
        elif "type" in entry:
            raise MappingError(f"{origin}: [tags] {key}: tags are always strings; remove type")
        fixes = _table(entry.get("fix", {}), f"{section}.{key}.fix", origin)
        specs.append(
            ColumnSpec(
                key=key,
                column=str(entry["column"]),
                ftype=ftype,
                fixes={str(k): str(v) for k, v in fixes.items()},
                extract=entry.get("extract"),
                group=int(entry.get("group", 1)),
            )
        )
    return specs
