"""Benchmark: naive Bayes train + hold-out evaluation on 1M synthetic bird points.

Reference in the same run: scikit-learn's CategoricalNB fitted directly on
pre-encoded integer features (no feature derivation, no evaluation), i.e. the
floor of what any naive Bayes over these features must spend.

    python bench/classify.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
from sklearn.naive_bayes import CategoricalNB

from fluxlab.analysis.bayes import ClassifierSpec, train_and_evaluate


def synthetic_birds(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    species = rng.choice(["stork", "tern", "gull", "crane"], n)
    north_p = pl.Series(species).replace_strict(
        {"stork": 0.9, "tern": 0.1, "gull": 0.6, "crane": 0.4}, return_dtype=pl.Float64
    ).to_numpy()
    north = rng.random(n) < north_p
    lat = np.where(north, rng.uniform(5, 65, n), rng.uniform(-50, -5, n))
    return pl.DataFrame(
        {
            "time": rng.integers(1546300800 * 10**9, 1577836800 * 10**9, n),
            "lat": lat,
            "lon": rng.uniform(-20, 40, n),
            "species": species,
            "individual": np.char.add(species.astype(str), rng.integers(0, 10, n).astype(str)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = synthetic_birds(args.rows)
    spec = ClassifierSpec(
        target="species",
        categorical=["hemisphere", "season", "s2:6"],
        numeric=["lat", "lon"],
        split="group:individual",
    )
    t0 = time.perf_counter()
    _, ev = train_and_evaluate(data, spec)
    ours = time.perf_counter() - t0

    codes = np.stack([(data["lat"] >= 0).to_numpy().astype(int), data["time"].to_numpy() % 4], 1)
    t0 = time.perf_counter()
    CategoricalNB().fit(codes, data["species"].cast(pl.Categorical).to_physical().to_numpy())
    ref = time.perf_counter() - t0
    print(f"naive Bayes on {args.rows:,} rows (hemisphere, season, s2:6, lat, lon; group split)")
    print(f"  fluxlab train + evaluate + refit: {ours:.2f} s")
    print(f"  sklearn CategoricalNB.fit on pre-encoded features: {ref:.2f} s  (ratio {ours / ref:.1f}x)")
    print(f"  accuracy {ev.accuracy:.3f} (baseline {ev.baseline_accuracy:.3f}), macro-F1 {ev.macro_f1:.3f}")


if __name__ == "__main__":
    main()
