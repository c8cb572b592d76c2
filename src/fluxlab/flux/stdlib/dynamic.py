"""Package "experimental/dynamic": values whose type is only known at run time.

Flux needs a `dynamic` wrapper so its static type checker accepts, e.g., parsed JSON
of unknown shape. This engine is dynamically typed, so a dynamic value is simply the
value itself: member access on a missing label or on null gives null, and the
universe conversions (`int(v:)`, `string(v:)`...) apply directly. JSON numbers parse
as floats (as Go's JSON decoder reads them) and encode without a trailing ".0".
"""

from __future__ import annotations

from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.operators import compare
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.json_pkg import encode_json, parse_json
from fluxlab.flux.values import Dictionary, type_name

_PKG = "experimental/dynamic"

# dynamic.isType names differ from type_name() for records and dictionaries
_TYPE_ALIASES = {"record": "object", "dict": "dictionary"}
_TYPES = {
    "string", "bytes", "int", "uint", "float", "bool", "time", "duration", "regexp",
    "array", "object", "function", "dictionary", "vector",
}


@builtin(_PKG)
def dynamic(ctx: Any, v: Any) -> Any:
    """Wrap v as a dynamic value (here: v itself; wrapping twice changes nothing)."""
    return v


@builtin(_PKG, pipe="v")
def asArray(ctx: Any, v: Any) -> list[Any]:  # noqa: N802
    """The array inside a dynamic value; anything else is an error."""
    if not isinstance(v, list):
        raise FluxRuntimeError(
            f"dynamic.asArray: unable to convert a dynamic {type_name(v)} to an array"
        )
    return v


@builtin(_PKG)
def isType(ctx: Any, v: Any, type: str) -> bool:  # noqa: A002, N802
    """Whether the dynamic value holds a value of the named type (null: false)."""
    if type not in _TYPES:
        raise FluxTypeError(f"dynamic.isType: unknown type {type!r}")
    if v is None:
        return False
    if isinstance(v, Dictionary):
        return type == "dictionary"
    name = type_name(v)
    return _TYPE_ALIASES.get(name, name) == type


@builtin(_PKG, name="_equal")  # the name older Flux releases used
@builtin(_PKG, name="_isNotDistinct")
def is_not_distinct(ctx: Any, a: Any, b: Any) -> bool:
    """Null-safe equality of two dynamic values (both null counts as equal)."""
    if a is None or b is None:
        return a is None and b is None
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(
            is_not_distinct(ctx, x, y) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(is_not_distinct(ctx, a[k], b[k]) for k in a)
    return bool(compare("==", a, b))


@builtin(_PKG)
def jsonParse(ctx: Any, data: Any) -> Any:  # noqa: N802
    """The dynamic value of JSON bytes."""
    return parse_json(data, "dynamic.jsonParse")


@builtin(_PKG)
def jsonEncode(ctx: Any, v: Any) -> bytes:  # noqa: N802
    """A dynamic value as JSON bytes (object keys sorted, like Go's encoder)."""
    return encode_json(v, sort_keys=True)
