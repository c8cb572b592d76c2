"""Dataset recipes: TOML data on top of the generic ingest mapping.

A recipe (``recipes/NAME.toml``) names a dataset, its bucket, where the public file
comes from, and one or more *layouts*. A layout is an exact header plus an ordinary
ingest mapping (the same TOML an analyst writes for `fluxlab ingest`), so every
recipe is loaded by the one generic pipeline. Each file is matched to a layout by its
own header, which is how two yearly layouts of one dataset load side by side.

The few things the generic mapping cannot say yet are recipe-level keys, each a
small generic operation compiled into the mapping's Polars row plan (so they stay
vectorized and their failures become ordinary rejects with line numbers):

* ``[time] extract = 'regex'``: time from part of a value ("start of the period").
* field ``required = true``: a missing or unextractable value rejects the row
  instead of leaving the field empty (``geom`` without coordinates).
* field ``censored_prefix = "<"`` + ``censored_flag = "key"``: ``<N`` means "fewer
  than N": store N-1 and a boolean field saying the value was censored.
* field ``lookup = "name"``: the value must be one of a reference table's values
  (UCR codes); unknown ones are rejected.
* field ``reason = "..."``: the reason written to the rejects file for that field.
* ``[geo]``: an S2 cell token tag computed from the lat/lon fields.
* ``[options.NAME]``: a CLI switch (``--drop-outliers``, ``--explode``) turning on a
  generic ``drop`` (reject rows whose field has given values) or ``explode`` (one
  point per step between the time and a stop column, done on the Arrow batches).
"""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxlab.ingest.mapping import mapping_from_dict

EXPLODE_STOP = "__explode_stop"
"""Helper field carrying the end of a period (ns) to the batch stage; never stored."""

_FIELD_EXTRAS = ("required", "censored_prefix", "censored_flag", "lookup", "reason")
_DURATIONS_NS = {"d": 86_400_000_000_000, "h": 3_600_000_000_000, "w": 7 * 86_400_000_000_000}


class RecipeError(ValueError):
    """A recipe name, layout or option that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class FieldExtras:
    """Recipe-level behaviour of one field (see the module docstring)."""

    required: bool = False
    censored_prefix: str | None = None
    censored_flag: str | None = None
    lookup: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Geo:
    """An S2 token tag from two float fields."""

    lat: str
    lon: str
    tag: str = "s2_cell_id"
    level: int = 10


@dataclass(frozen=True)
class Drop:
    field: str
    values: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Explode:
    column: str
    extract: str
    format: str
    step_ns: int


@dataclass(frozen=True)
class RecipeOption:
    name: str
    help: str
    drop: Drop | None = None
    explode: Explode | None = None


@dataclass(frozen=True)
class Layout:
    """One known file layout: its exact header and how it maps to points."""

    name: str
    header: tuple[str, ...]
    mapping: dict[str, Any]
    fields: dict[str, FieldExtras]
    time_extract: str | None = None
    geo: Geo | None = None
    options: dict[str, RecipeOption] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookup:
    """Allowed values of a field, read from a tag of another bucket at load time."""

    bucket: str
    measurement: str
    tag: str


@dataclass(frozen=True)
class Source:
    """Where real users get the public file (see datasets.fetch)."""

    publisher: str = ""
    url: str = ""
    where: str = ""
    manual: str = ""
    filename: str = ""


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    bucket: str
    format: str
    description: str
    source: Source
    layouts: tuple[Layout, ...] = ()
    lookups: dict[str, Lookup] = field(default_factory=dict)
    sample: str | None = None
    generator: str | None = None

    def option_names(self) -> list[str]:
        return sorted({name for layout in self.layouts for name in layout.options})

    def layout_for(self, header: Sequence[str], source: str) -> Layout:
        """The layout whose header this file has (order-insensitive), or a clear error."""
        found = [h.strip() for h in header]
        for layout in self.layouts:
            if sorted(found) == sorted(layout.header):
                return layout
        expected = "; ".join(f"{lay.name}: {','.join(lay.header)}" for lay in self.layouts)
        raise RecipeError(
            f"{source}: header is not a known {self.name} layout. Found: {','.join(found)}. "
            f"Expected one of: {expected}. Check that this is a {self.title} file, or load it "
            "with `fluxlab ingest --mapping` and your own mapping file."
        )


# ----------------------------------------------------------------------------- loading


def recipe_names() -> list[str]:
    folder = importlib.resources.files("fluxlab.datasets") / "recipes"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_recipe(name: str) -> Recipe:
    """The packaged recipe `name`, or a RecipeError listing the known ones."""
    resource = importlib.resources.files("fluxlab.datasets") / "recipes" / f"{name}.toml"
    if not resource.is_file():
        raise RecipeError(f"unknown dataset {name!r}; known datasets: {', '.join(recipe_names())}")
    return recipe_from_dict(tomllib.loads(resource.read_text(encoding="utf-8")), origin=name)


def recipe_from_dict(data: dict[str, Any], origin: str) -> Recipe:
    layouts = tuple(_layout(entry, origin) for entry in data.get("layouts", []))
    for layout in layouts:  # fail early: the mapping must be valid before any file is read
        mapping_from_dict(layout.mapping, origin=f"recipe {origin}, layout {layout.name}")
    return Recipe(
        name=data["name"],
        title=data.get("title", data["name"]),
        bucket=data.get("bucket", data["name"]),
        format=data.get("format", "csv"),
        description=data.get("description", ""),
        source=Source(**data.get("source", {})),
        layouts=layouts,
        lookups={k: Lookup(**v) for k, v in data.get("lookups", {}).items()},
        sample=data.get("sample"),
        generator=data.get("generator"),
    )


def _layout(entry: dict[str, Any], origin: str) -> Layout:
    mapping = _deep_copy(entry["mapping"])
    extras: dict[str, FieldExtras] = {}
    for key, spec in mapping.get("fields", {}).items():
        if isinstance(spec, dict):
            picked = {k: spec.pop(k) for k in _FIELD_EXTRAS if k in spec}
            extras[key] = FieldExtras(**picked)
    time_extract = mapping.get("time", {}).pop("extract", None) if "time" in mapping else None
    geo = Geo(**entry["geo"]) if "geo" in entry else None
    options = {name: _option(name, spec) for name, spec in entry.get("options", {}).items()}
    return Layout(
        name=entry["name"],
        header=tuple(entry["header"]),
        mapping=mapping,
        fields=extras,
        time_extract=time_extract,
        geo=geo,
        options=options,
    )


def _option(name: str, spec: dict[str, Any]) -> RecipeOption:
    drop = spec.get("drop")
    explode = spec.get("explode")
    return RecipeOption(
        name=name,
        help=spec.get("help", ""),
        drop=Drop(drop["field"], tuple(drop["values"]), drop["reason"]) if drop else None,
        explode=Explode(
            explode["column"], explode["extract"], explode["format"], _step_ns(explode["step"])
        )
        if explode
        else None,
    )


def _step_ns(text: str) -> int:
    unit = text[-1]
    if unit not in _DURATIONS_NS or not text[:-1].isdigit():
        raise RecipeError(f"explode step {text!r}: use a count and d, h or w (e.g. 1d)")
    return int(text[:-1]) * _DURATIONS_NS[unit]


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def read_csv_header(path: Path) -> list[str]:
    """The first line of a (possibly gzipped) CSV file, parsed."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])
