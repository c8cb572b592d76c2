"""`fluxlab classify train|predict` on points written through the real CLI and store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from cli_runner import Fluxlab


def _birds_lp(n: int = 2000, seed: int = 0) -> str:
    """Two species: storks mostly north, terns mostly south, 4 birds each."""
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(n):
        species = "stork" if k % 2 == 0 else "tern"
        north = rng.random() < (0.9 if species == "stork" else 0.1)
        lat = rng.uniform(10, 60) if north else rng.uniform(-50, -5)
        lon = rng.uniform(-20, 40)
        bird = f"{species}{rng.integers(0, 4)}"
        t = 1546300800 + int(rng.integers(0, 365 * 86400))
        lines.append(f"birds,species={species},id={bird} lat={lat:.5f},lon={lon:.5f} {t}")
    return "\n".join(lines) + "\n"


def test_train_evaluate_save_and_predict(fluxlab: Fluxlab, tmp_path: Path) -> None:
    fluxlab.ok("write", "-", "--bucket", "b", "--precision", "s", input=_birds_lp())
    model, report = tmp_path / "m.json", tmp_path / "r.json"
    out = fluxlab.ok(
        "classify", "train", "--bucket", "b", "--measurement", "birds", "--target", "species",
        "--features", "hemisphere,season", "--split", "group:id",
        "--model", str(model), "--report", str(report),
    ).stdout
    assert "naive Bayes" in out and "baseline" in out and "confusion matrix" in out
    ev = json.loads(report.read_text())
    assert ev["n_train"] + ev["n_test"] == 2000
    assert ev["accuracy"] > 0.8 > ev["baseline_accuracy"] + 0.2
    res = fluxlab.ok(
        "classify", "predict", "--model", str(model), "--lat", "45", "--lon", "5",
        "--date", "2019-07-01", "--format", "json", store=False,
    )
    proba = json.loads(res.stdout)
    assert set(proba) == {"stork", "tern"}
    assert abs(sum(proba.values()) - 1) < 1e-9 and proba["stork"] > 0.8


def test_spec_file_and_clear_errors(fluxlab: Fluxlab, tmp_path: Path) -> None:
    fluxlab.ok("write", "-", "--bucket", "b", "--precision", "s", input=_birds_lp(400))
    spec = tmp_path / "spec.toml"
    spec.write_text('target = "species"\ncategorical = ["hemisphere"]\nnumeric = ["lat"]\n')
    fluxlab.ok("classify", "train", "--bucket", "b", "--measurement", "birds", "--spec", str(spec))
    bad = fluxlab("classify", "train", "--bucket", "b", "--measurement", "birds",
                  "--target", "nope", "--features", "hemisphere")
    assert bad.exit_code != 0 and "nope" in bad.output
    single = fluxlab("classify", "train", "--bucket", "b", "--measurement", "birds",
                     "--target", "species", "--features", "hemisphere", "--split", "group:species")
    assert single.exit_code != 0
