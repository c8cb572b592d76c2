"""Collisions across the commit chunks of one write call (the in-call key filter path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from storage_helpers import make_batch, rows

from fluxlab.storage import Store
from fluxlab.storage.write import SeenKeys


def _values(store: Store, field: str) -> dict[tuple[int, str | None], object]:
    return {(r["_time"], r.get("host")): r["_value"] for r in rows(store.scan("b", fields=[field]))}


def test_seen_keys_never_misses_a_key_and_rarely_claims_one() -> None:
    rng = np.random.default_rng(7)
    stored = rng.integers(0, 2**63, 200_000).astype(np.uint64)
    other = rng.integers(0, 2**63, 200_000).astype(np.uint64)
    seen = SeenKeys()
    seen.add(stored)
    assert seen.may_contain(stored).all()  # no false negatives: no collision is missed
    assert seen.may_contain(other).mean() < 0.01


@pytest.mark.parametrize("budget", [SeenKeys.BUDGET, 0])  # with the filter; exact joins only
def test_partial_rows_merge_with_rows_of_earlier_chunks(
    tmp_path: Path, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 2 rows: later rows of the same series and time merge field by field."""
    monkeypatch.setattr(SeenKeys, "BUDGET", budget)
    with Store(tmp_path / "s", chunk_rows=2) as store:
        store.create_bucket("b")
        batch = make_batch(
            "m",
            [10, 20, 30, 10, 40, 20],
            tags={"host": ["a", "a", "b", "a", "b", "b"]},
            fields={"x": [1.0, 2.0, 3.0, None, 4.0, 6.0], "y": [None, 5.0, None, 7.0, None, None]},
        )
        result = store.write("b", batch)
        assert result.collisions.within_input == 1  # (a, 10) twice; (b, 20) is another series
        assert result.collisions.with_existing == 0
        assert _values(store, "x") == {(10, "a"): 1.0, (20, "a"): 2.0, (30, "b"): 3.0,
                                       (40, "b"): 4.0, (20, "b"): 6.0}
        assert _values(store, "y") == {(10, "a"): 7.0, (20, "a"): 5.0}
        assert store.check().points == 5


def test_points_stored_before_the_call_are_still_found(tmp_path: Path) -> None:
    """The filter only knows this call's keys: older points in range use the exact join."""
    with Store(tmp_path / "s", chunk_rows=2) as store:
        store.create_bucket("b")
        store.write("b", make_batch("m", [15], fields={"x": [1.0], "z": [9.0]}))
        result = store.write("b", make_batch("m", [5, 30, 15, 5], fields={"x": [1.0, 2.0, 3.0, 4.0]}))
        assert result.collisions.with_existing == 1
        assert result.collisions.within_input == 1
        assert _values(store, "x") == {(5, None): 4.0, (15, None): 3.0, (30, None): 2.0}
        assert _values(store, "z") == {(15, None): 9.0}  # a field the new row lacks is kept


def test_rewriting_rows_with_duplicates_inside_the_input_keeps_one_point(store: Store) -> None:
    """Two input rows of one key merge first, then with the stored point: one row stays."""
    batch = make_batch("m", [1, 2, 1], tags={"host": ["a", "a", "a"]},
                       fields={"x": [1.0, 2.0, None], "y": [None, None, 3.0], "z": [4.0, 4.0, 4.0]})
    store.write("b", make_batch("m", [1], tags={"host": ["a"]}, fields={"w": [0.5]}))
    for _ in range(2):
        store.write("b", batch)
        assert store.check().points == 2
    assert _values(store, "y") == {(1, "a"): 3.0}
    assert _values(store, "w") == {(1, "a"): 0.5}
