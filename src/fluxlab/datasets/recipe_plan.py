"""Recipe layouts compiled into the generic ingest row plan (see datasets.recipe).

`RecipeMapping` is an ordinary ingest `Mapping` whose `row_plan` also applies the
layout's recipe-level keys as Polars expressions, so they run vectorized inside the
one ingest pipeline and their failures are ordinary rejects (file, line, column,
value). What the row plan cannot express - rows multiplied by `explode`, reasons
worded by the recipe - is done here on Arrow batches and on the (small) rejects file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from fluxlab.datasets.recipe import (
    EXPLODE_STOP,
    Drop,
    Explode,
    FieldExtras,
    Geo,
    Layout,
    Recipe,
    RecipeError,
)
from fluxlab.ingest.geotag import tokens_of_block
from fluxlab.ingest.mapping import ColumnSpec, Mapping, mapping_from_dict
from fluxlab.ingest.rowplan import FieldPlan, RowPlan, TagPlan, typed_field
from fluxlab.ingest.transforms import clean, extract
from fluxlab.ingest.transforms import type_error_reason as _type_reason
from fluxlab.model import s2
from fluxlab.model.points import FieldType
from fluxlab.model.timeparse import parse_times

# ----------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class Settings:
    """Choices made at load time: switched-on options, S2 level, lookup values."""

    options: frozenset[str] = frozenset()
    s2_level: int | None = None
    lookup_values: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeMapping(Mapping):
    """An ingest Mapping whose row plan also applies the layout's recipe-level keys."""

    layout: Layout | None = None
    settings: Settings = Settings()

    def row_plan(self, header: list[str]) -> RowPlan:
        plan = super().row_plan(header)
        assert self.layout is not None
        return _extend_plan(plan, self, self.layout, self.settings)


def recipe_mapping(recipe: Recipe, layout: Layout, settings: Settings) -> RecipeMapping:
    """The layout's mapping, checked by the generic parser, with the recipe keys attached."""
    unknown = settings.options - set(layout.options)
    if unknown:
        raise RecipeError(
            f"option(s) {', '.join('--' + o for o in sorted(unknown))} do not apply to "
            f"{recipe.name}; its options: {', '.join('--' + o for o in recipe.option_names()) or 'none'}"
        )
    base = mapping_from_dict(layout.mapping, origin=f"recipe {recipe.name}, layout {layout.name}")
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(Mapping)}
    return RecipeMapping(**values, layout=layout, settings=settings)


def _extend_plan(plan: RowPlan, mapping: Mapping, layout: Layout, settings: Settings) -> RowPlan:
    specs = {s.key: s for s in mapping.fields}
    fields: list[FieldPlan] = []
    for fp in plan.fields:
        extras = layout.fields.get(fp.key, FieldExtras())
        fields.extend(_field_plans(fp, specs[fp.key], extras, mapping, settings))
    for name in sorted(settings.options):
        option = layout.options[name]
        if option.drop is not None:
            fields = [_with_drop(fp, option.drop) for fp in fields]
        if option.explode is not None:
            fields.append(_explode_plan(option.explode, mapping))
    tags = list(plan.tags)
    if layout.geo is not None:
        tags.append(_geo_tag(layout.geo, fields, settings))
    time_raw = plan.time_raw
    if layout.time_extract and time_raw is not None:
        time_raw = extract(time_raw, layout.time_extract)
    used = list(plan.used_columns)
    for name in settings.options:
        explode = layout.options[name].explode
        if explode is not None and explode.column not in used:
            used.append(explode.column)
    return dataclasses.replace(plan, fields=fields, tags=tags, time_raw=time_raw, used_columns=used)


def _field_plans(
    fp: FieldPlan, spec: ColumnSpec, extras: FieldExtras, mapping: Mapping, settings: Settings
) -> list[FieldPlan]:
    """The field's plan with required/censored/lookup applied, plus a censored flag field."""
    raw = clean(pl.col(spec.column), fixes=spec.fixes, nulls=mapping.nulls)
    steps: list[Callable[[pl.Expr], pl.Expr]] = []
    if spec.extract and not extras.required:
        raw = extract(raw, spec.extract, spec.group)  # as the generic mapping: no match = empty
    if extras.required:
        raw = raw.fill_null("")  # present but unusable: the check below rejects the row
        if spec.extract:
            steps.append(lambda e, p=spec.extract, g=spec.group: extract(e, p, g))
        steps.append(lambda e: e.replace("", None))  # one reference: `e` may be a regex
    if extras.lookup:
        allowed = list(settings.lookup_values.get(extras.lookup, ()))
        if extras.lookup in settings.lookup_values:
            steps.append(lambda e, a=allowed: _known_or_null(e, a))
    out: list[FieldPlan] = []
    if extras.censored_prefix:
        prefix = extras.censored_prefix
        censored = raw.str.starts_with(prefix)
        bound = raw.str.strip_prefix(prefix).cast(pl.Int64, strict=False) - 1
        raw = pl.when(censored).then(bound.cast(pl.String)).otherwise(raw)
        if extras.censored_flag:
            flag = pl.when(censored).then(pl.lit("true")).otherwise(pl.lit("false"))
            out.append(
                FieldPlan(extras.censored_flag, spec.column,
                          pl.when(raw.is_null()).then(None).otherwise(flag), FieldType.BOOLEAN)
            )

    def prepare(e: pl.Expr, steps: list[Callable[[pl.Expr], pl.Expr]] = steps) -> pl.Expr:
        for step in steps:
            e = step(e)
        return e

    main = FieldPlan(fp.key, fp.source, raw, fp.ftype, prepare if steps else None)
    return [main, *out]


def _known_or_null(expr: pl.Expr, allowed: list[str]) -> pl.Expr:
    """Values outside `allowed` become null (rejected by the field check): a hash lookup
    against the small reference table, reading `expr` once."""
    known = list(dict.fromkeys(allowed))
    return expr.replace_strict(known, known, default=None, return_dtype=pl.String)


def _with_drop(fp: FieldPlan, drop: Drop) -> FieldPlan:
    """Rows whose field has one of the drop values fail the field's check: rejected."""
    if fp.key != drop.field:
        return fp
    earlier = fp.prepare
    values = [v.lower() for v in drop.values]

    def prepare(e: pl.Expr) -> pl.Expr:
        e = earlier(e) if earlier else e
        return pl.when(e.str.to_lowercase().is_in(values)).then(None).otherwise(e)

    return dataclasses.replace(fp, prepare=prepare)


def _explode_plan(explode: Explode, mapping: Mapping) -> FieldPlan:
    """The period's stop time (ns, as text) in a helper field the batch stage consumes."""
    raw = extract(clean(pl.col(explode.column), nulls=mapping.nulls),
                  explode.extract)
    timezone = mapping.time.timezone if mapping.time else None

    def to_ns(e: pl.Expr) -> pl.Expr:
        return e.map_batches(
            lambda s: parse_times(s, explode.format, timezone=timezone).cast(pl.String),
            return_dtype=pl.String,
        )

    return FieldPlan(EXPLODE_STOP, explode.column, raw, FieldType.INTEGER, to_ns)


def _geo_tag(geo: Geo, fields: list[FieldPlan], settings: Settings) -> TagPlan:
    """S2 token of (lat, lon) at the chosen level; null (no tag) without coordinates.

    A late tag: it reads the fields' typed values, so the coordinates are extracted and
    cast once per block, not again for the tag.
    """
    index = {fp.key: i for i, fp in enumerate(fields)}
    if geo.lat not in index or geo.lon not in index:
        raise RecipeError(f"[geo] needs fields {geo.lat!r} and {geo.lon!r} in the mapping")
    level = s2.check_level(settings.s2_level if settings.s2_level is not None else geo.level)
    coords = pl.struct(typed_field(index[geo.lat]).alias("lat"),
                       typed_field(index[geo.lon]).alias("lon"))
    token = coords.map_batches(tokens_of_block(level), return_dtype=pl.String)
    return TagPlan(geo.tag, fields[index[geo.lat]].source, token, late=True)


# ----------------------------------------------------------------------------- reasons


ReasonRule = tuple[str, str, str, tuple[str, ...] | None]
"""(column, generic reason written by ingest, recipe reason, only for these values or None)."""


def reason_rules(layout: Layout, settings: Settings, mapping: Mapping) -> list[ReasonRule]:
    """How to reword the rejects of a recipe load.

    The generic row plan gives every failed field conversion a type-based reason; a
    recipe knows better ("unknown UCR code", "geom has no coordinates").
    """
    specs = {s.key: s for s in mapping.fields}
    rules: list[ReasonRule] = []
    for name in sorted(settings.options):
        drop = layout.options[name].drop
        if drop is not None and drop.field in specs:
            spec = specs[drop.field]
            rules.append((spec.column, _type_reason(spec.ftype), drop.reason, drop.values))
    for key, extras in layout.fields.items():
        if extras.reason and key in specs:
            rules.append((specs[key].column, _type_reason(specs[key].ftype), extras.reason, None))
    for name in sorted(settings.options):
        explode = layout.options[name].explode
        if explode is not None:
            rules.append((explode.column, _type_reason(FieldType.INTEGER),
                          f"cannot parse the end of the period: expected {explode.format!r}", None))
    return rules


def rewrite_reasons(path: Path, rules: list[ReasonRule]) -> pl.DataFrame:
    """Apply `reason_rules` to a rejects file in place; return the rejects (small)."""
    frame = pl.read_csv(path, infer_schema_length=0)
    if frame.height == 0 or not rules:
        return frame
    reason = pl.col("reason")
    for column, generic, better, values in rules:
        hit = (pl.col("column") == column) & (pl.col("reason") == generic)
        if values is not None:
            hit = hit & pl.col("value").str.to_lowercase().is_in([v.lower() for v in values])
        reason = pl.when(hit).then(pl.lit(better)).otherwise(reason)
    frame = frame.with_columns(reason.alias("reason"))
    frame.write_csv(path)
    return frame


def drop_reasons(layout: Layout, settings: Settings) -> set[str]:
    """Reasons that mean "dropped on purpose" (counted apart from malformed rows)."""
    return {
        layout.options[n].drop.reason  # type: ignore[union-attr]
        for n in settings.options
        if layout.options[n].drop is not None
    }


# ----------------------------------------------------------------------------- batches


def explode_table(table: pa.Table, step_ns: int, max_steps: int = 400) -> pa.Table:
    """One row per step from `time` to the helper stop column (inclusive), vectorized.

    A missing or earlier stop keeps the single row; spans are capped at `max_steps`
    so a typo in a year cannot blow a file up a thousandfold.
    """
    if EXPLODE_STOP not in table.column_names:
        return table
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    stop = pl.col(EXPLODE_STOP).fill_null(pl.col("time"))
    stop = pl.min_horizontal(pl.max_horizontal(stop, pl.col("time")),
                             pl.col("time") + step_ns * (max_steps - 1))
    frame = frame.with_columns(pl.int_ranges(pl.col("time"), stop + 1, step_ns).alias("time"))
    frame = frame.explode("time").drop(EXPLODE_STOP)
    arrow = frame.to_arrow()
    return arrow.cast(
        pa.schema(
            [pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type)
             or pa.types.is_string_view(f.type) else f for f in arrow.schema]
        )
    )
