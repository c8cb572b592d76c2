"""Per-query resource limits: wall time, memory growth and rows read from storage.

A runaway query (a huge range, a union of a stream with itself, a row-wise lambda
over millions of rows) must stop with a clear error instead of taking the shared
machine down. The checks are cooperative, like the time limit of `Context`: the
interpreter calls `check_time()` before every function call and statement, and
`LimitedContext` adds a resident-memory check there (RSS growth since the query
started, read from /proc, cheap). `from()` additionally refuses to materialize more
than `max_rows` rows from one scan (see stdlib/from_store.read_plan), which stops the
most common runaway before the memory is spent.

    results = run_limited(text, store=store, limits=QueryLimits(timeout_s=5))
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.table import Stream
from fluxlab.flux.values import Time

MIB = 1024 * 1024
CHECK_EVERY_S = 0.02
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class QueryLimitError(FluxRuntimeError):
    """A query exceeded one of its limits (time, memory or rows); the message says which."""


@dataclass(frozen=True)
class QueryLimits:
    """Limits of one query run; None switches a limit off.

    Defaults suit a 2-core machine with about 1 GiB per user: five minutes, 1 GiB of
    memory growth, 50 million rows from one storage scan.
    """

    timeout_s: float | None = 300.0
    max_memory_mb: float | None = 1024.0
    max_rows: int | None = 50_000_000


def rss_bytes() -> int | None:
    """Current resident set size of this process (None where /proc is unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class LimitedContext(Context):
    """A Context that also enforces a memory-growth limit and a scan row cap."""

    def __init__(self, *, limits: QueryLimits, **kwargs: Any) -> None:
        super().__init__(timeout_s=limits.timeout_s, **kwargs)
        self.limits = limits
        self.max_rows = limits.max_rows  # read by from_store.read_plan
        self._baseline = rss_bytes()
        self._next_check = 0.0

    def check_time(self) -> None:
        """Time limit (Context's), then the memory limit: both are checked together."""
        super().check_time()
        self.check_memory()

    def check_memory(self) -> None:
        """Raise when resident memory grew by more than the limit since the query began."""
        limit = self.limits.max_memory_mb
        if limit is None or self._baseline is None:
            return
        clock = time.monotonic()
        if clock < self._next_check:
            return  # row-wise lambdas call this per row: read /proc at most every 20 ms
        self._next_check = clock + CHECK_EVERY_S
        now = rss_bytes()
        if now is not None and now - self._baseline > limit * MIB:
            grown = (now - self._baseline) / MIB
            raise QueryLimitError(
                f"query exceeded its memory limit: it grew by {grown:.0f} MiB, more than "
                f"{limit:g} MiB; narrow the range() or filter() earlier, or raise the limit"
            )


def run_limited(
    text: str,
    *,
    store: Any = None,
    limits: QueryLimits | None = None,
    now: Time | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Stream]:
    """Parse and run a Flux program under `limits`; results by name (like flux.run)."""
    from fluxlab.flux import parsed
    from fluxlab.flux.interpreter import Interpreter

    ctx = LimitedContext(limits=limits or QueryLimits(), now=now, source=store, options=options)
    program = parsed(text)
    try:
        results = Interpreter(ctx).run(program)
    except FluxRuntimeError as exc:
        if "time limit" in str(exc) and not isinstance(exc, QueryLimitError):
            seconds = limits.timeout_s if limits else QueryLimits().timeout_s
            raise QueryLimitError(
                f"query exceeded its time limit of {seconds:g} s; narrow the range() or "
                "raise the limit"
            ) from None
        raise
    return results
