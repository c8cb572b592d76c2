"""`fluxlab datasets` — the seed datasets: list, generate (synthetic), fetch (real), load.

Thin: recipes, generators and downloads live in `fluxlab.datasets`; this module
parses options, calls them and prints accounts. Synthetic files always say so.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fluxlab.backends.base import Backend
from fluxlab.cli.common import (
    Connection,
    connected,
    reports_errors,
)
from fluxlab.cli.output import console, error, note, plain_row
from fluxlab.datasets.fetch import fetch, missing_url_message
from fluxlab.datasets.generators import GENERATORS, SYNTHETIC_NOTE, generate
from fluxlab.datasets.load import DatasetLoad, load_dataset
from fluxlab.datasets.recipe import load_recipe, recipe_names

app = typer.Typer(
    help="Seed datasets: recipes that map, clean and account for public files "
    "(Movebank, CT school COVID-19, Hartford police incidents, UCR codes, bird migration).",
    no_args_is_help=True,
)


class Collision(StrEnum):
    KEEP_LAST = "keep-last"
    KEEP_FIRST = "keep-first"
    ERROR = "error"


@app.command("list")
@reports_errors
def list_datasets() -> None:
    """The datasets fluxlab knows: bucket, where the data comes from, sample/generator."""
    view = Table(title="Seed datasets", header_style="bold")
    for column in ("name", "bucket", "title", "get the data"):
        view.add_column(column, overflow="fold")
    for name in recipe_names():
        recipe = load_recipe(name)
        if recipe.sample:
            how = "bundled sample (no file needed)"
        elif recipe.source.url:
            how = f"fluxlab datasets fetch {name}"
        elif recipe.source.manual:
            how = "manual download (see `fluxlab datasets fetch " + name + "`)"
        else:
            how = f"fluxlab datasets fetch {name} --url LINK"
        if recipe.generator:
            how += f"; synthetic: fluxlab datasets generate {name}"
        view.add_row(*plain_row(name, recipe.bucket, recipe.title, how))
    console.print(view)


@app.command("generate")
@reports_errors
def generate_cmd(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(sorted(GENERATORS))}.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (CSV).")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Rows of valid data.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    layout: Annotated[
        str | None,
        typer.Option("--layout", help="ct-school-covid only: 2020-2021 or 2021-2022.",
                     show_default=False),
    ] = None,
) -> None:
    """Write a SYNTHETIC file in the exact layout (and quirks) of a public dataset."""
    options = {"layout": layout} if layout else {}
    if layout and name != "ct-school-covid":
        raise typer.BadParameter("--layout applies to ct-school-covid only")
    made = generate(name, out, rows, seed, **options)
    console.print(
        f"wrote {made.path}: {made.rows:,} rows + {made.malformed} deliberately malformed "
        f"row(s) (seed {seed}).",
        markup=False, soft_wrap=True,
    )
    console.print(f"SYNTHETIC: {SYNTHETIC_NOTE}; not real {name} data.", markup=False,
                  soft_wrap=True)
    console.print(f"Load it: fluxlab datasets load {name} {made.path}", markup=False,
                  soft_wrap=True)


@app.command("fetch")
@reports_errors
def fetch_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name (see `fluxlab datasets list`).")],
    url: Annotated[
        str | None, typer.Option("--url", help="Download from this URL instead of the recipe's.",
                                 show_default=False)
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected SHA-256 of the file.",
                                 show_default=False)
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Cache folder (default: FLUXLAB_CACHE or "
                                  "the user cache dir).", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if cached.")] = False,
) -> None:
    """Download a dataset's public file into the cache (with a SHA-256 checksum)."""
    recipe = load_recipe(name)
    if not (url or recipe.source.url):
        error(missing_url_message(recipe))
        raise typer.Exit(2)
    got = fetch(recipe, url=url, cache_dir=cache_dir, sha256=sha256, force=force)
    state = "cached copy (checksum verified)" if got.from_cache else "downloaded"
    console.print(f"{state}: {got.path} ({got.size:,} bytes)", markup=False, soft_wrap=True)
    console.print(f"sha256 {got.sha256}", markup=False)
    console.print(f"from {got.url}", markup=False, soft_wrap=True)
    console.print(f"Load it: fluxlab datasets load {name} {got.path}", markup=False,
                  soft_wrap=True)


@app.command("load")
@reports_errors
@connected
def load_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name (see `fluxlab datasets list`).")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Files to load; none for the bundled sample (bird-migration).",
                       show_default=False),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", "-b", help="Bucket (default: the dataset's name).",
                                 show_default=False)
    ] = None,
    drop_outliers: Annotated[
        bool, typer.Option("--drop-outliers", help="movebank: reject rows marked as outliers "
                           "(counted) instead of keeping them flagged.")
    ] = False,
    explode: Annotated[
        bool, typer.Option("--explode", help="ct-school-covid: one point per day of the report "
                           "period instead of one at its start.")
    ] = False,
    s2_level: Annotated[
        int | None, typer.Option("--s2-level", min=1, max=30, help="S2 level of the s2_cell_id "
                                 "tag (default: the recipe's).", show_default=False)
    ] = None,
    max_errors: Annotated[
        int, typer.Option("--max-errors", min=-1, help="Rejected rows allowed before stopping "
                          "(-1 = no limit: reject, count and go on).")
    ] = -1,
    rejects_dir: Annotated[
        Path | None, typer.Option("--rejects-dir", help="Folder for the rejects files (default: "
                                  "'rejects' next to the store).", show_default=False)
    ] = None,
    on_collision: Annotated[
        Collision, typer.Option("--on-collision", help="Same series+field+time twice.")
    ] = Collision.KEEP_LAST,
    sort: Annotated[bool, typer.Option("--sort", help="Sort by time before writing.")] = False,
    conn: Connection = Connection(),
) -> None:
    """Map, clean and load a dataset's files into its own bucket, accounting for every row."""
    options = [o for o, on in (("drop-outliers", drop_outliers), ("explode", explode)) if on]
    with conn.open() as backend:
        result = load_dataset(
            backend, name, files or [], bucket=bucket, options=options, s2_level=s2_level,
            rejects_dir=rejects_dir or default_rejects_dir(backend), max_errors=max_errors,
            on_collision=on_collision.value, sort=sort,
        )
        print_load(result)
    if any(f.account.exit_code for f in result.files):
        raise typer.Exit(1)


def default_rejects_dir(backend: Backend) -> Path:
    """Next to an embedded store; in the working directory for a remote server."""
    if backend.kind == "embedded":
        return Path(backend.location).parent / "rejects"
    return Path.cwd() / "fluxlab-rejects"


def print_load(result: DatasetLoad) -> None:
    """Each file's account, then the dataset's totals and where rejects went."""
    for load in result.files:
        console.print(f"{load.path}: layout {load.layout}", markup=False, soft_wrap=True)
        console.print(load.account.rich_table())
        for reason, count in sorted(load.reasons.items(), key=lambda kv: -kv[1]):
            console.print(f"  rejected {count:,}: {reason}", markup=False, soft_wrap=True)
        if load.rejects_path is not None:
            console.print(f"  rejects file: {load.rejects_path}", markup=False, soft_wrap=True)
    for text in result.notes:
        note(f"note: {text}")
    dropped = f", {result.dropped:,} dropped on purpose" if result.dropped else ""
    console.print(
        f"{result.recipe.name} -> bucket {result.bucket}: {result.rows_read:,} rows read, "
        f"{result.rows_written:,} written, {result.rows_rejected - result.dropped:,} rejected"
        f"{dropped}; balanced: {'yes' if result.balanced else 'NO'}",
        markup=False, soft_wrap=True,
    )


def seed_datasets_demo(backend: Backend, store_path: Path, *, explicit_store: bool) -> None:
    """The part of `fluxlab demo` after bird-migration: generated seed datasets + analyses.

    Called by cli/demo.py; lives here so the demo grows with the datasets layer.
    """
    from fluxlab.cli.analyze import run_analysis
    from fluxlab.cli.output import OutputFormat
    from fluxlab.datasets.analyses import all_analyses
    from fluxlab.datasets.demo import load_demo_datasets

    folder = store_path.parent / "demo-data"
    console.rule("seed datasets (SYNTHETIC files in the real layouts)")
    console.print(
        f"Hartford incidents, UCR codes, CT school COVID-19 and Movebank files cannot be "
        f"downloaded here: fluxlab generates seeded synthetic files in their exact layouts "
        f"into {folder} ({SYNTHETIC_NOTE}).",
        markup=False, soft_wrap=True,
    )
    loads = load_demo_datasets(backend, folder, default_rejects_dir(backend), include_bundled=False)
    summary = Table(title="Seed datasets loaded", header_style="bold")
    for column in ("dataset", "bucket", "files", "rows read", "written", "rejected", "balanced"):
        summary.add_column(column, justify="left" if column in ("dataset", "bucket") else "right")
    for load in loads:
        summary.add_row(*plain_row(
            load.recipe.name, load.bucket, len(load.files), f"{load.rows_read:,}",
            f"{load.rows_written:,}", f"{load.rows_rejected:,}", "yes" if load.balanced else "NO",
        ))
    console.print(summary)
    console.rule("saved analyses (fluxlab analyze NAME)")
    for analysis in all_analyses():
        run_analysis(backend, analysis, OutputFormat.TABLE, max_rows=12)
    flag = f" --store {store_path}" if explicit_store else ""
    console.print(
        f"\nSynthetic source files: {folder}; rejected rows with reasons: "
        f"{default_rejects_dir(backend)}.", markup=False, soft_wrap=True,
    )
    console.print("More to try with the seed datasets:", style="bold")
    for line in (
        "fluxlab datasets list",
        f"fluxlab analyze hartford-weekly-incidents{flag} --format csv",
        "fluxlab analyze ct-cases-by-city --show-query   (paste it into the InfluxDB UI or Grafana)",
        f"fluxlab datasets load movebank {folder / 'movebank.csv'} --drop-outliers{flag}",
        f"fluxlab datasets load ct-school-covid {folder / 'ct-school-covid-2021-2022.csv'} "
        f"--explode --bucket ct-daily{flag}",
    ):
        console.print(f"  {line}", markup=False, soft_wrap=True)


SeedDatasetsOpt = Annotated[
    bool,
    typer.Option("--datasets/--birds-only", help="Also load the seed datasets (synthetic files) "
                 "and run every saved analysis."),
]
