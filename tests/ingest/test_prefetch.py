"""Background producers keep order, pass errors on and stop when the consumer stops."""

from __future__ import annotations

import threading
import time

import pytest

from fluxlab.ingest.prefetch import ordered_map, prefetch


def _slow_square(x: int) -> int:
    time.sleep(0.002 * (x % 3))  # later items often finish first
    return x * x


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ordered_map_keeps_input_order(workers: int) -> None:
    assert list(ordered_map(_slow_square, range(40), workers=workers, ahead=5)) == [
        x * x for x in range(40)
    ]


def test_ordered_map_runs_calls_at_the_same_time() -> None:
    inside, most = 0, 0
    lock = threading.Lock()

    def track(x: int) -> int:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        with lock:
            inside -= 1
        return x

    assert list(ordered_map(track, range(10), workers=2, ahead=4)) == list(range(10))
    assert most == 2


def test_ordered_map_raises_the_first_failure_in_order() -> None:
    def fail_at_5(x: int) -> int:
        if x == 5:
            raise ValueError("bad block 5")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad block 5"):
        for value in ordered_map(fail_at_5, range(20), workers=2, ahead=3):
            seen.append(value)
    assert seen == [0, 1, 2, 3, 4]


def test_ordered_map_closed_early_stops_submitting() -> None:
    started: list[int] = []

    def record(x: int) -> int:
        started.append(x)
        return x

    results = ordered_map(record, range(1000), workers=2, ahead=4)
    assert next(results) == 0
    results.close()
    assert len(started) <= 5


def test_prefetch_passes_producer_errors_to_the_consumer() -> None:
    def produce():
        yield 1
        raise RuntimeError("reader failed")

    items = prefetch(produce(), depth=2)
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="reader failed"):
        next(items)
