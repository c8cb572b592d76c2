"""Packages "experimental/record" and "dict": record and dictionary helpers.

`record.any` is the empty record, usable as a default for a parameter that takes any
record; `record.get` reads a label with a fallback. Dictionaries are immutable in
Flux, so `dict.insert`/`dict.remove` return a new dictionary.
"""

from __future__ import annotations

from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.values import Dictionary, type_name

_RECORD = "experimental/record"
_DICT = "dict"

register_value(_RECORD, "any", {})


def _record(r: Any, fname: str) -> dict[str, Any]:
    if not isinstance(r, dict) or isinstance(r, Dictionary):
        raise FluxTypeError(f"record.{fname}: r must be a record, got {type_name(r)}")
    return r


@builtin(_RECORD)
def get(ctx: Any, r: Any, key: str, default: Any) -> Any:
    """r[key] when the record has that label, else `default`."""
    record = _record(r, "get")
    return record.get(key, default)


@builtin(_RECORD)
def at(ctx: Any, r: Any, key: str) -> Any:
    """r[key]; the label must exist."""
    record = _record(r, "at")
    if key not in record:
        raise FluxRuntimeError(f"record.at: record has no label {key!r}")
    return record[key]


def _dictionary(d: Any, fname: str) -> Dictionary:
    if not isinstance(d, Dictionary):
        raise FluxTypeError(f"dict.{fname}: dict must be a dictionary, got {type_name(d)}")
    return d


@builtin(_DICT)
def fromList(ctx: Any, pairs: list[Any]) -> Dictionary:  # noqa: N802
    """A dictionary from [{key, value}] records (a later key replaces an earlier one)."""
    out = Dictionary()
    for pair in pairs:
        if not isinstance(pair, dict) or "key" not in pair or "value" not in pair:
            raise FluxTypeError("dict.fromList: pairs must be records {key, value}")
        out[pair["key"]] = pair["value"]
    return out


@builtin(_DICT, name="get")
def dict_get(ctx: Any, dict: Any, key: Any, default: Any) -> Any:  # noqa: A002
    """dict[key], or `default` when the key is absent."""
    d = _dictionary(dict, "get")
    return d.get(key, default)


@builtin(_DICT)
def insert(ctx: Any, dict: Any, key: Any, value: Any) -> Dictionary:  # noqa: A002
    """A copy of the dictionary with key set to value."""
    out = Dictionary(_dictionary(dict, "insert"))
    out[key] = value
    return out


@builtin(_DICT)
def remove(ctx: Any, dict: Any, key: Any) -> Dictionary:  # noqa: A002
    """A copy of the dictionary without key."""
    out = Dictionary(_dictionary(dict, "remove"))
    out.pop(key, None)
    return out
