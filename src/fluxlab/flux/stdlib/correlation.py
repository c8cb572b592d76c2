"""Universe `pearsonr`: Pearson's r of two streams' `_value`, joined on columns.

Flux defines it as `cov(x, y, on, pearsonr: true)`, so it shares `cov`'s join and
covariance code (in `aggregates.py`).
"""

from __future__ import annotations

from typing import Any

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import PACKAGES, builtin
from fluxlab.flux.table import Stream


@builtin("universe")
def pearsonr(ctx: Any, x: Stream, y: Stream, on: list[str]) -> Stream:
    """Correlation coefficient of x._value and y._value over rows matched by `on`."""
    cov = PACKAGES.get("universe", {}).get("cov")
    if cov is None:
        raise FluxRuntimeError("pearsonr: cov is not available")
    return ctx.call(cov, x=x, y=y, on=on, pearsonr=True)
