"""Where native (Python) Flux functions and package members are registered.

A stdlib module registers its members at import time:

    from fluxlab.flux.registry import builtin, register_value

    @builtin("universe", pipe="tables")
    def count(ctx, tables, column="_value"):
        ...

    register_value("math", "pi", math.pi)

The function receives the interpreter context first (`ctx`: options such as `now`,
the storage backend for `from`, and `ctx.call(fn, **args)` to call a Flux function
value), then the call's named arguments as Python values (see `fluxlab.flux.values`).
`pipe` names the parameter that receives the piped-in value (`<-`). A missing
required argument is reported by the interpreter from the Python signature.
The interpreter imports `fluxlab.flux.stdlib` once, which imports every module.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PACKAGES: dict[str, dict[str, Any]] = {}


@dataclass(slots=True)
class NativeFunction:
    """A Flux function implemented in Python."""

    package: str
    name: str
    impl: Callable[..., Any]
    pipe: str | None = None
    params: tuple[str, ...] = field(default=())
    required: frozenset[str] = field(default=frozenset())

    def __call__(self, ctx: Any, args: dict[str, Any]) -> Any:
        return self.impl(ctx, **args)


def builtin(package: str, name: str | None = None, *, pipe: str | None = None):
    """Register the decorated Python function as `package.name` (universe: global)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        params = [p for p in list(sig.parameters.values())[1:] if p.kind != p.VAR_KEYWORD]
        required = frozenset(
            p.name for p in params if p.default is inspect.Parameter.empty and p.name != pipe
        )
        fname = name or fn.__name__.rstrip("_")
        PACKAGES.setdefault(package, {})[fname] = NativeFunction(
            package, fname, fn, pipe, tuple(p.name for p in params), required
        )
        return fn

    return register


def register_value(package: str, name: str, value: Any) -> None:
    """Register a constant or a ready-made function value as `package.name`."""
    PACKAGES.setdefault(package, {})[name] = value
