"""Running a producer one step ahead in a background thread.

Arrow's CSV parser, Polars and DuckDB release the GIL while they work, so reading
the next block (or transforming the next batch) in a thread overlaps with what the
consumer does with the current one. The queue is bounded: memory stays a few
batches, never the file.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_END = object()


def prefetch(items: Iterable[T], depth: int = 2, name: str = "fluxlab-prefetch") -> Iterator[T]:
    """Yield `items`, produced in a background thread up to `depth` ahead.

    Exceptions in the producer are re-raised in the consumer; closing the returned
    generator early stops the producer at its next step.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not offer(item):
                    break
            else:
                offer(_END)
        except BaseException as exc:  # handed to the consumer thread
            offer(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


R = TypeVar("R")

TRANSFORM_WORKERS = 2
"""CSV blocks transformed at once: the second worker uses the core that the parser and
the store leave idle on a 2-core machine (709K Hartford rows: plan done 0.5 s sooner)."""


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: int = 4,
    name: str = "fluxlab-map",
) -> Iterator[R]:
    """`map(fn, items)` with up to `ahead` calls running in `workers` threads, results in
    input order. For block transforms that release the GIL (Polars, NumPy, Arrow): a
    second worker uses the core the parser and the store leave idle. Memory stays
    `ahead` blocks; closing early cancels what has not started."""
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
