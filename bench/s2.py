"""Benchmark: S2 cell tokens, vectorized, against one library call per point.

Reference measured in the same run: `s2cell.lat_lon_to_token` called once per point
(the approach of the tutorials this replaces). Prints points/s and the ratio.

    python bench/s2.py [--points 5000000] [--level 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import s2cell

from fluxlab.model import s2


def random_points(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=5_000_000)
    parser.add_argument("--level", type=int, default=10)
    parser.add_argument("--reference-points", type=int, default=100_000)
    args = parser.parse_args()

    lat, lon = random_points(args.points)
    ours = best_of(3, lambda: s2.cell_tokens(lat, lon, args.level))
    n_ref = args.reference_points
    ref = best_of(
        1, lambda: [s2cell.lat_lon_to_token(a, b, args.level) for a, b in zip(lat[:n_ref], lon[:n_ref], strict=True)]
    )
    check = s2.cell_tokens(lat[:n_ref], lon[:n_ref], args.level).to_pylist()
    expected = [s2cell.lat_lon_to_token(a, b, args.level) for a, b in zip(lat[:n_ref], lon[:n_ref], strict=True)]
    agree = sum(x == y for x, y in zip(check, expected, strict=True)) / n_ref
    ours_rate, ref_rate = args.points / ours, n_ref / ref
    print(f"S2 tokens, level {args.level}")
    print(f"  fluxlab (NumPy, vectorized): {ours_rate:>12,.0f} points/s  ({args.points:,} points)")
    print(f"  s2cell, one call per point:  {ref_rate:>12,.0f} points/s  ({n_ref:,} points)")
    print(f"  ratio: {ours_rate / ref_rate:.1f}x   agreement with s2cell: {agree:.2%}")


if __name__ == "__main__":
    main()
