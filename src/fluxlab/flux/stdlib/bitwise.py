"""Packages "bitwise" and "experimental/bitwise": 64-bit integer bit operations.

Flux runs these on Go's int64/uint64, so results wrap at 64 bits: signed values are
two's complement (`snot(a: 1)` is -2), unsigned ones wrap modulo 2**64, and shifts by
64 or more give 0 (or -1 for a negative value shifted right), as Go defines them.
The `s*` functions take and return int, the `u*` functions uint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.values import Unsigned, type_name

_MASK = (1 << 64) - 1
_PACKAGES = ("bitwise", "experimental/bitwise")


def _to_int64(value: int) -> int:
    """Reinterpret the low 64 bits as a signed (two's complement) integer."""
    value &= _MASK
    return value - (1 << 64) if value >> 63 else value


def _signed(value: Any, fname: str, param: str) -> int:
    if isinstance(value, bool | Unsigned) or not isinstance(value, int):
        raise FluxTypeError(f"bitwise.{fname}: {param} must be an int, got {type_name(value)}")
    return int(value)


def _unsigned(value: Any, fname: str, param: str) -> int:
    if not isinstance(value, Unsigned):
        raise FluxTypeError(f"bitwise.{fname}: {param} must be a uint, got {type_name(value)}")
    return int(value)


def _shift_count(value: int, fname: str) -> int:
    if value < 0:
        raise FluxRuntimeError(f"bitwise.{fname}: shift count b must not be negative, got {value}")
    return value


def _register(name: str, fn: Callable[..., Any]) -> None:
    fn.__name__ = name
    for package in _PACKAGES:
        builtin(package, name)(fn)


# ------------------------------------------------------------------ signed (int)


def _binary_signed(name: str, op: Callable[[int, int], int]) -> None:
    def impl(ctx: Any, a: Any, b: Any) -> int | None:
        if a is None or b is None:
            return None
        return _to_int64(op(_signed(a, name, "a"), _signed(b, name, "b")))

    _register(name, impl)


def _left(a: int, b: int, fname: str) -> int:
    b = _shift_count(b, fname)
    return 0 if b >= 64 else a << b


def _right_signed(a: int, b: int) -> int:
    b = _shift_count(b, "srshift")
    return a >> min(b, 63)  # Python's >> on ints is arithmetic, like Go's on int64


_binary_signed("sand", lambda a, b: a & b)
_binary_signed("sor", lambda a, b: a | b)
_binary_signed("sxor", lambda a, b: a ^ b)
_binary_signed("sclear", lambda a, b: a & ~b)
_binary_signed("slshift", lambda a, b: _left(a, b, "slshift"))
_binary_signed("srshift", _right_signed)


def _snot(ctx: Any, a: Any) -> int | None:
    return None if a is None else _to_int64(~_signed(a, "snot", "a"))


_register("snot", _snot)


# ---------------------------------------------------------------- unsigned (uint)


def _binary_unsigned(name: str, op: Callable[[int, int], int]) -> None:
    def impl(ctx: Any, a: Any, b: Any) -> Unsigned | None:
        if a is None or b is None:
            return None
        return Unsigned(op(_unsigned(a, name, "a"), _unsigned(b, name, "b")) & _MASK)

    _register(name, impl)


def _right_unsigned(a: int, b: int) -> int:
    b = _shift_count(b, "urshift")
    return 0 if b >= 64 else a >> b


_binary_unsigned("uand", lambda a, b: a & b)
_binary_unsigned("uor", lambda a, b: a | b)
_binary_unsigned("uxor", lambda a, b: a ^ b)
_binary_unsigned("uclear", lambda a, b: a & ~b)
_binary_unsigned("ulshift", lambda a, b: _left(a, b, "ulshift"))
_binary_unsigned("urshift", _right_unsigned)


def _unot(ctx: Any, a: Any) -> Unsigned | None:
    return None if a is None else Unsigned(~_unsigned(a, "unot", "a") & _MASK)


_register("unot", _unot)
