"""`testing.loadMem`: the older test-harness loader, kept for scripts that still use it.

It decodes annotated CSV into tables exactly like `csv.from(csv:)` (the in-memory
source of the reference harness), so it delegates to that.
"""

from __future__ import annotations

from typing import Any

from fluxlab.flux.registry import PACKAGES, builtin
from fluxlab.flux.table import Stream


@builtin("testing")
def loadMem(ctx: Any, csv: str) -> Stream:  # noqa: N802
    """The tables of an annotated CSV string (same as csv.from(csv: csv))."""
    return ctx.call(PACKAGES["csv"]["from"], csv=csv)
