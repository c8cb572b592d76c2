"""The evaluation context handed to every native Flux function.

A `Context` carries what a query run shares: the options (`now`, `location`,
package options), the storage backend for `from()`, and helpers to call Flux
function values from Python (`call`, `row_function`). It is created by the
interpreter per run, but stdlib code and tests may build one directly:

    ctx = Context(now=Time(0))
    ctx.call(fn, r={"_value": 1})
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.values import Duration, Time, type_name

if TYPE_CHECKING:
    from fluxlab.flux.compile import RowFunction

UTC_LOCATION: dict[str, Any] = {"zone": "UTC", "offset": Duration()}


class Context:
    """Options, source and call helpers for one query run."""

    def __init__(
        self,
        *,
        now: Time | None = None,
        options: dict[str, Any] | None = None,
        source: Any = None,
        timeout_s: float | None = None,
        max_depth: int = 400,
    ) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.source = source
        self.max_depth = max_depth
        self.depth = 0
        self._fixed_now = now
        self._now_cache: Time | None = None
        self._deadline = time.monotonic() + timeout_s if timeout_s else None
        self.interpreter: Any = None  # set by the interpreter that owns this context

    # ------------------------------------------------------------------ options

    @property
    def now(self) -> Time:
        """`option now` evaluated once per run (a function value or a time)."""
        if self._now_cache is None:
            value = self.options.get("now")
            if value is None:
                value = self._fixed_now or Time(time.time_ns())
            elif callable(value):
                value = self.call(value)
            if not isinstance(value, Time):
                raise FluxTypeError(f"option now must return a time, got {type_name(value)}")
            self._now_cache = value
        return self._now_cache

    def reset_now(self) -> None:
        """Forget the cached `now` (after `option now` is reassigned)."""
        self._now_cache = None

    @property
    def location(self) -> dict[str, Any]:
        """`option location`: a record {zone: string, offset: duration}; UTC by default."""
        loc = self.options.get("location")
        return loc if isinstance(loc, dict) else UTC_LOCATION

    # ------------------------------------------------------------------ calls

    def call(self, fn: Any, /, **kwargs: Any) -> Any:
        """Call a Flux function value (lambda or native) with named arguments."""
        if not callable(fn):
            raise FluxTypeError(f"cannot call a value of type {type_name(fn)}")
        self.check_time()
        self.depth += 1
        try:
            if self.depth > self.max_depth:
                raise FluxRuntimeError(
                    f"recursion limit exceeded ({self.max_depth} nested calls)"
                )
            return fn(self, kwargs)
        finally:
            self.depth -= 1

    def row_function(self, fn: Any, param: str = "r") -> RowFunction:
        """A per-row function (`(r) => ...`) that runs vectorized when it can."""
        from fluxlab.flux.compile import RowFunction

        return RowFunction(self, fn, param)

    # ------------------------------------------------------------------ guards

    def check_time(self) -> None:
        """Raise when the run has exceeded its time limit (checked cooperatively)."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FluxRuntimeError("query exceeded its time limit")
