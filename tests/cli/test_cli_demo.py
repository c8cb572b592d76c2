"""`fluxlab demo`: loads the bundled bird-migration sample; re-running changes nothing.

`--birds-only` skips the seed datasets and saved analyses (tested with the datasets
layer), so these tests check the bird sample quickly and exactly.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from cli_runner import Fluxlab

SAMPLE = Path(__file__).resolve().parents[2] / "src/fluxlab/datasets/data/bird-migration.line"


def test_demo_loads_every_line_and_is_idempotent(fluxlab: Fluxlab) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8971

    first = fluxlab.ok("demo", "--birds-only")
    assert "8,971" in first.stdout  # rows read / points in the summary
    assert "lat" in first.stdout and "lon" in first.stdout
    assert str(fluxlab.store) in first.stdout and "Try next" in first.stdout

    second = fluxlab.ok("demo", "--birds-only")
    assert "8,971" in second.stdout
    assert "Already loaded before: 8,971 points replaced identical ones" in second.stdout

    counts = fluxlab.sql(
        'SELECT count(*) AS points, count(DISTINCT id) AS birds, '
        'count(DISTINCT (id, s2_cell_id)) AS series, count(lat) AS lats, count(lon) AS lons, '
        'min(epoch_ns("time")) AS first, max(epoch_ns("time")) AS last '
        'FROM "bird-migration"."migration"'
    )
    assert counts.splitlines()[1] == (
        "8971,8,926,8971,8971,1546315200000000000,1577822400000000000"
    )


def test_demo_values_match_the_file(fluxlab: Fluxlab) -> None:
    fluxlab.ok("demo", "--birds-only")
    row = fluxlab.sql(
        'SELECT id, s2_cell_id, lat, lon FROM "bird-migration"."migration" '
        'WHERE epoch_ns("time") = 1554123600000000000 AND id = \'91752A\''
    )
    assert row.splitlines()[1] == "91752A,164b35c,8.3495,39.01233"


def test_demo_uses_the_default_store_under_the_user_data_dir(
    fluxlab: Fluxlab, tmp_path: Path
) -> None:
    result = fluxlab.ok("demo", "--birds-only", store=False)
    default = tmp_path / "xdg-data" / "fluxlab" / "store"
    assert str(default) in result.stdout
    assert "--store" not in result.stdout.split("Try next")[1]
    assert default.is_dir()


def test_every_suggested_next_command_runs(fluxlab: Fluxlab) -> None:
    out = fluxlab.ok("demo", "--birds-only").stdout
    suggested = [
        line.strip() for line in out.split("Try next:")[1].splitlines()
        if line.strip().startswith("fluxlab ") and "your.csv" not in line
    ]
    assert len(suggested) >= 4
    for command in suggested:
        argv = shlex.split(command)[1:]
        result = fluxlab(*argv, store=False)  # the suggestion carries its own --store
        assert result.exit_code == 0, f"{command}\n{result.output}"
        assert result.stdout.strip(), command
