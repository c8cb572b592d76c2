"""The NumPy key helpers of the write path agree with their plain (slower) definitions."""

from __future__ import annotations

import numpy as np

from fluxlab.storage.write import SeenKeys, _duplicate_candidates, _members


def test_members_matches_isin_including_lookalike_top_bits() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**63, 100_000).astype(np.uint64)
    few = np.unique(np.concatenate([values[::997], values[5:8] ^ np.uint64(1)]))  # same top bits
    assert np.array_equal(_members(values, few), np.isin(values, few))


def test_duplicate_candidates_flag_every_row_of_a_repeated_key() -> None:
    times = np.array([5, 3, 5, 9, 3, 7], dtype=np.int64)
    sids = np.array([1, 1, 1, 2, 2, 2], dtype=np.int64)
    flagged = _duplicate_candidates(times, sids)
    assert flagged is not None
    assert flagged.tolist() == [True, False, True, False, False, False]


def test_seen_keys_set_the_same_bits_as_one_key_at_a_time() -> None:
    keys = np.random.default_rng(5).integers(0, 2**63, 5_000).astype(np.uint64)
    keys = np.concatenate([keys, keys[:100]])  # repeats must not lose a bit
    together, alone = SeenKeys(), SeenKeys()
    together.add(keys)
    for key in keys[:-100]:
        alone.add(np.array([key], dtype=np.uint64))
    assert np.array_equal(together.bits, alone.bits)
    assert together.may_contain(keys).all()
