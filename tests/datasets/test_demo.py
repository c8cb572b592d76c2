"""The demo: every seed dataset loaded (synthetic files said to be synthetic), every analysis run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_cli import Cli  # noqa: E402

from fluxlab.backends.embedded import EmbeddedBackend  # noqa: E402
from fluxlab.datasets.analyses import all_analyses  # noqa: E402
from fluxlab.datasets.demo import load_demo_datasets  # noqa: E402

BUCKETS = ["bird-migration", "ct-school-covid", "hartford-incidents", "movebank",
           "socrata-ucr-codes"]


def test_demo_datasets_small_scale(cli: Cli, tmp_path: Path) -> None:
    """Fast variant: the demo's loading step at 5% size, then two analyses via the CLI."""
    with EmbeddedBackend(cli.store) as backend:
        loads = load_demo_datasets(backend, tmp_path / "demo-data", cli.rejects, scale=0.05)
        assert [load.recipe.name for load in loads] == [
            "bird-migration", "socrata-ucr-codes", "hartford-incidents", "ct-school-covid",
            "movebank",
        ]
        assert all(load.balanced for load in loads)
        hartford = next(load for load in loads if load.recipe.name == "hartford-incidents")
        assert hartford.rows_read == 1_000 + 1 and hartford.rows_rejected == 1
        assert sorted(b.name for b in backend.list_buckets()) == BUCKETS
    assert (tmp_path / "demo-data" / "ct-school-covid-2021-2022.csv").is_file()
    assert "Hartford" in cli.ok("analyze", "ct-cases-by-city").stdout
    assert "SERVICE CALL" in cli.ok("analyze", "hartford-top-case-types").stdout


def test_birds_only_demo_skips_the_seed_datasets(cli: Cli) -> None:
    out = cli.ok("demo", "--birds-only").stdout
    assert "8,971" in out and "seed datasets" not in out


def test_demo_end_to_end_and_again(cli: Cli) -> None:
    started = time.perf_counter()
    out = cli.ok("demo").stdout
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"demo took {elapsed:.1f} s"
    assert "SYNTHETIC" in out and str(cli.store.parent / "demo-data") in out
    for analysis in all_analyses():
        assert f"[{analysis.name}]" in out.replace("\n", " ") or analysis.title[:20] in out
    assert "balanced" in out and "NO" not in out.split("Seed datasets loaded")[1].split("\n\n")[0]
    bayes = out.split("naive Bayes (fluxlab classify train)")[1]
    assert "P(taxon | hemisphere, season, s2:5) on movebank" in bayes
    assert "P(ucr_1_category | neighborhood, hour, weekday)" in bayes and "baseline" in bayes
    counts = cli.sql('SELECT count(*) FROM "hartford-incidents"."incidents"')
    again = cli.ok("demo").stdout
    assert "Seed datasets loaded" in again
    assert cli.sql('SELECT count(*) FROM "hartford-incidents"."incidents"') == counts
    buckets = cli.ok("bucket", "list").stdout
    assert all(name in buckets for name in BUCKETS)
