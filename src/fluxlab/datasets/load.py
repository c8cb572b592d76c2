"""`load_dataset`: run a recipe's files through the generic ingest pipeline, one account each.

Per file: read the header, pick the layout it matches, build the recipe mapping, run
`ingest_file` with a rejects file, reword the rejects with the recipe's reasons, and
count rows dropped on purpose (``--drop-outliers``) apart from malformed ones.
The write target wraps the backend so batch-level recipe steps (``--explode``) run
between the reader and the store, on Arrow batches, with memory still bounded.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxlab.backends.base import Backend, run_ingest
from fluxlab.datasets.recipe import (
    EXPLODE_STOP,
    Explode,
    Layout,
    Recipe,
    RecipeError,
    load_recipe,
    read_csv_header,
)
from fluxlab.datasets.recipe_plan import (
    Settings,
    drop_reasons,
    explode_table,
    reason_rules,
    recipe_mapping,
    rewrite_reasons,
)
from fluxlab.model.points import PointBatch


@dataclass
class FileLoad:
    """What happened to one input file."""

    path: str
    layout: str
    account: Any
    rejects_path: Path | None
    dropped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def malformed(self) -> int:
        return int(self.account.rows_rejected) - self.dropped


@dataclass
class DatasetLoad:
    """All files of one `fluxlab datasets load` run."""

    recipe: Recipe
    bucket: str
    files: list[FileLoad]
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.account.rows_read for f in self.files)

    @property
    def rows_written(self) -> int:
        return sum(f.account.rows_written for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.account.rows_rejected for f in self.files)

    @property
    def dropped(self) -> int:
        return sum(f.dropped for f in self.files)

    @property
    def balanced(self) -> bool:
        return all(f.account.balanced for f in self.files)


def load_dataset(
    backend: Backend,
    name: str,
    files: Iterable[str | Path] = (),
    *,
    bucket: str | None = None,
    options: Iterable[str] = (),
    s2_level: int | None = None,
    rejects_dir: str | Path = "rejects",
    max_errors: int = -1,
    on_collision: str = "keep-last",
    sort: bool = False,
    progress: bool | None = None,
) -> DatasetLoad:
    """Load `files` (or the bundled sample) with recipe `name` into its bucket."""
    recipe = load_recipe(name)
    paths = [Path(f) for f in files]
    target_bucket = bucket or recipe.bucket
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(2, "No such file", str(path))
    if not paths and recipe.sample is None:
        raise RecipeError(
            f"{name}: give the file(s) to load. No public copy ships with fluxlab; get one with "
            f"`fluxlab datasets fetch {name}` or make a synthetic one with "
            f"`fluxlab datasets generate {name} --out FILE`"
        )
    settings_notes: list[str] = []
    settings = Settings(
        options=frozenset(options),
        s2_level=s2_level,
        lookup_values=_lookup_values(backend, recipe, settings_notes),
    )
    if options and recipe.format != "csv":
        raise RecipeError(f"{name} has no options (it is {recipe.format} data)")
    if recipe.format == "csv":  # every header is checked before anything is created
        for path in paths:
            recipe_mapping(recipe, recipe.layout_for(read_csv_header(path), str(path)), settings)
    backend.ensure_bucket(target_bucket)
    result = DatasetLoad(recipe, target_bucket, [], settings_notes)
    common = dict(max_errors=max_errors, on_collision=on_collision, sort=sort, progress=progress)
    with ExitStack() as stack:
        if not paths:
            assert recipe.sample is not None
            resource = importlib.resources.files("fluxlab.datasets") / "data" / recipe.sample
            sample = stack.enter_context(importlib.resources.as_file(resource))
            paths = [sample]
        for path in paths:
            result.files.append(
                _load_file(backend, recipe, target_bucket, path, settings, Path(rejects_dir), common)
            )
    return result


def _load_file(
    backend: Backend,
    recipe: Recipe,
    bucket: str,
    path: Path,
    settings: Settings,
    rejects_dir: Path,
    common: dict[str, Any],
) -> FileLoad:
    rejects = rejects_dir / f"{recipe.name}-{_slug(path.name)}.rejects.csv"
    rejects.unlink(missing_ok=True)  # a re-run must not show the rows of an earlier one
    if recipe.format == "lp":
        account = run_ingest(
            _Target(backend, None), bucket, path, format="lp", precision="ns",
            rejects_path=rejects, **common,
        )
        return _finish(FileLoad(str(path), "line protocol", account, rejects), None, settings)
    layout = recipe.layout_for(read_csv_header(path), str(path))
    mapping = recipe_mapping(recipe, layout, settings)
    account = run_ingest(
        _Target(backend, layout, settings), bucket, path, format="csv", mapping=mapping,
        rejects_path=rejects, **common,
    )
    load = FileLoad(str(path), layout.name, account, rejects)
    if rejects.is_file():
        frame = rewrite_reasons(rejects, reason_rules(layout, settings, mapping))
        load.reasons = dict(frame.group_by("reason").len().iter_rows())
        _reword_first_error(account, frame)
    return _finish(load, layout, settings)


def _finish(load: FileLoad, layout: Layout | None, settings: Settings) -> FileLoad:
    if layout is not None:
        dropped = drop_reasons(layout, settings)
        load.dropped = sum(n for reason, n in load.reasons.items() if reason in dropped)
    if load.rejects_path is not None and not load.rejects_path.is_file():
        load.rejects_path = None
    return load


def _reword_first_error(account: Any, frame: Any) -> None:
    if frame.height and getattr(account, "first_error", None):
        row = frame.row(0, named=True)
        value = "" if row["value"] is None else f" value {row['value']!r}:"
        account.first_error = (
            f"{row['source']}:{row['line']}: column {row['column']!r}:{value} {row['reason']}"
        )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _lookup_values(backend: Backend, recipe: Recipe, notes: list[str]) -> dict[str, tuple[str, ...]]:
    """Reference values (e.g. UCR codes) from their buckets; a missing bucket skips the check."""
    values: dict[str, tuple[str, ...]] = {}
    known = {b.name for b in backend.list_buckets()}
    for name, lookup in recipe.lookups.items():
        found = (
            backend.tag_values(lookup.bucket, lookup.tag, lookup.measurement)
            if lookup.bucket in known
            else []
        )
        if found:
            values[name] = tuple(found)
        else:
            notes.append(
                f"{name} not checked: bucket {lookup.bucket!r} holds no {lookup.measurement} "
                f"data; load it first (fluxlab datasets load {lookup.bucket} FILE) to reject "
                "unknown codes"
            )
    return values


class _Target:
    """What `ingest_file` writes to: the backend, with the recipe's batch steps in between."""

    def __init__(self, backend: Backend, layout: Layout | None, settings: Settings | None = None):
        self.backend = backend
        self.steps: list[Explode] = []
        if layout is not None and settings is not None:
            chosen = [layout.options[n].explode for n in sorted(settings.options)]
            self.steps = [step for step in chosen if step is not None]

    def write(self, bucket: str, batches: Iterable[PointBatch], *, on_collision: str = "keep-last",
              **_: Any) -> Any:
        summary = self.backend.write(bucket, self._transformed(batches), on_collision=on_collision)  # type: ignore[arg-type]
        return summary.detail if getattr(summary, "detail", None) is not None else summary

    def _transformed(self, batches: Iterable[PointBatch]) -> Iterator[PointBatch]:
        for batch in batches:
            for step in self.steps:
                table = explode_table(batch.table, step.step_ns)
                fields = tuple(f for f in batch.fields if f != EXPLODE_STOP)
                batch = PointBatch(batch.measurement, table, batch.tags, fields)
            yield batch

    def measurements(self, bucket: str, *args: Any) -> list[str]:
        return self.backend.measurements(bucket)

    def field_keys(self, bucket: str, measurement: str | None = None) -> Any:
        return self.backend.field_keys(bucket, measurement)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)
