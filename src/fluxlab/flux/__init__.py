"""Layer 4 — the Flux language: lexer -> parser -> AST -> interpreter over table streams."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluxlab.flux.ast import File
    from fluxlab.flux.table import Stream
    from fluxlab.flux.values import Time

__all__ = ["run", "run_csv"]


def run(
    source: str,
    *,
    source_store: Any = None,
    now: Time | int | datetime | None = None,
    timeout_s: float | None = 300.0,
    options: dict[str, Any] | None = None,
) -> dict[str, Stream]:
    """Parse and evaluate a Flux program; return its results (streams) by name.

    `source_store` is the storage Store `from()` reads; `now` fixes `now()` (a Time,
    Unix nanoseconds or an aware datetime) unless the program sets `option now`;
    `options` predefines options/externs (e.g. Grafana's `v` record); `timeout_s`
    bounds the run.
    """
    from fluxlab.flux.context import Context
    from fluxlab.flux.interpreter import Interpreter
    from fluxlab.flux.values import Time

    if isinstance(now, datetime):
        delta = now.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        now = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    fixed_now = Time(now) if isinstance(now, int) else now
    ctx = Context(now=fixed_now, source=source_store, timeout_s=timeout_s, options=options)
    return Interpreter(ctx).run(parsed(source))


@lru_cache(maxsize=256)
def parsed(source: str) -> File:
    """The program's syntax tree, cached by text: dashboards re-run the same queries and
    the tree is never modified after parsing (evaluation only reads it)."""
    from fluxlab.flux.parser import parse

    return parse(source)


def run_csv(source: str, **kwargs: Any) -> str:
    """`run()` and encode the results as InfluxDB 2 `/api/v2/query` annotated CSV."""
    from fluxlab.flux.results import encode

    return encode(run(source, **kwargs))
