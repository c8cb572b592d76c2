"""Package "math": Go's math package as Flux exposes it (float64 in, float64 out).

Scalar implementations follow Go semantics where Python differs (`round` rounds half
away from zero, `mMax`/`mMin` propagate NaN). The common ones also get a Polars
vector form so `map(fn: (r) => ({r with _value: math.round(x: r._value)}))` runs
vectorized (registered in `fluxlab.flux.compile.VECTOR_NATIVES`).
"""

from __future__ import annotations

import math as pymath
import struct
import sys
from collections.abc import Callable
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxTypeError
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.values import Unsigned, type_name

_CONSTANTS = {
    "pi": pymath.pi,
    "e": pymath.e,
    "phi": (1 + pymath.sqrt(5)) / 2,
    "sqrt2": pymath.sqrt(2),
    "sqrte": pymath.sqrt(pymath.e),
    "sqrtpi": pymath.sqrt(pymath.pi),
    "sqrtphi": pymath.sqrt((1 + pymath.sqrt(5)) / 2),
    "ln2": pymath.log(2),
    "log2e": 1 / pymath.log(2),
    "ln10": pymath.log(10),
    "log10e": 1 / pymath.log(10),
    "maxfloat": sys.float_info.max,
    "smallestNonzeroFloat": 5e-324,
    "maxint": 2**63 - 1,
    "minint": -(2**63),
    "maxuint": Unsigned(2**64 - 1),
}
for _name, _value in _CONSTANTS.items():
    register_value("math", _name, _value)


def _f(value: Any, fname: str, param: str = "x") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FluxTypeError(f"math.{fname}: {param} must be a float, got {type_name(value)}")
    return float(value)


def _safe(fn: Callable[..., float], *args: float) -> float:
    """Go returns NaN/Inf where Python raises."""
    try:
        return fn(*args)
    except (ValueError, ZeroDivisionError):
        return float("nan")
    except OverflowError:
        return float("inf")


def go_round(x: float) -> float:
    """Go math.Round: half away from zero."""
    if pymath.isnan(x) or pymath.isinf(x):
        return x
    return pymath.copysign(pymath.floor(abs(x) + 0.5), x)


def _go_max(x: float, y: float) -> float:
    if pymath.isnan(x) or pymath.isnan(y):
        return float("nan")
    return x if x > y else y


def _go_min(x: float, y: float) -> float:
    if pymath.isnan(x) or pymath.isnan(y):
        return float("nan")
    return x if x < y else y


def _log_or_nan(fn: Callable[[float], float]) -> Callable[[float], float]:
    def log(x: float) -> float:
        if x == 0:
            return float("-inf")
        if x < 0 or pymath.isnan(x):
            return float("nan")
        return fn(x)

    return log


_UNARY: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "acos": pymath.acos,
    "acosh": pymath.acosh,
    "asin": pymath.asin,
    "asinh": pymath.asinh,
    "atan": pymath.atan,
    "atanh": pymath.atanh,
    "cbrt": lambda x: pymath.copysign(abs(x) ** (1 / 3), x),
    "ceil": lambda x: float(pymath.ceil(x)) if pymath.isfinite(x) else x,
    "cos": pymath.cos,
    "cosh": pymath.cosh,
    "erf": pymath.erf,
    "erfc": pymath.erfc,
    "exp": pymath.exp,
    "exp2": lambda x: 2.0**x,
    "expm1": pymath.expm1,
    "floor": lambda x: float(pymath.floor(x)) if pymath.isfinite(x) else x,
    "gamma": pymath.gamma,
    "j0": lambda x: _bessel("j0", x),
    "j1": lambda x: _bessel("j1", x),
    "log": _log_or_nan(pymath.log),
    "log10": _log_or_nan(pymath.log10),
    "log1p": lambda x: pymath.log1p(x) if x > -1 else (float("-inf") if x == -1 else float("nan")),
    "log2": _log_or_nan(pymath.log2),
    "logb": lambda x: float(pymath.frexp(x)[1] - 1) if x else float("-inf"),
    "round": go_round,
    "roundtoeven": lambda x: float(round(x)) if pymath.isfinite(x) else x,
    "sin": pymath.sin,
    "sinh": pymath.sinh,
    "sqrt": pymath.sqrt,
    "tan": pymath.tan,
    "tanh": pymath.tanh,
    "trunc": lambda x: float(pymath.trunc(x)) if pymath.isfinite(x) else x,
    "y0": lambda x: _bessel("y0", x),
    "y1": lambda x: _bessel("y1", x),
}

_BINARY: dict[str, tuple[tuple[str, str], Callable[[float, float], float]]] = {
    "atan2": (("y", "x"), pymath.atan2),
    "copysign": (("x", "y"), pymath.copysign),
    "dim": (("x", "y"), lambda x, y: max(x - y, 0.0)),
    "hypot": (("p", "q"), pymath.hypot),
    "mMax": (("x", "y"), _go_max),
    "mMin": (("x", "y"), _go_min),
    "mod": (("x", "y"), pymath.fmod),
    "nextafter": (("x", "y"), pymath.nextafter),
    "pow": (("x", "y"), pymath.pow),
    "remainder": (("x", "y"), pymath.remainder),
}


def _bessel(kind: str, x: float, order: int | None = None) -> float:
    """Bessel functions come from scipy when it is installed (optional)."""
    try:
        import scipy.special as sp  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - scipy is optional
        from fluxlab.flux.errors import UnsupportedError

        raise UnsupportedError(f"math.{kind} needs scipy") from exc
    fn = getattr(sp, kind)
    return float(fn(x) if order is None else fn(order, x))


def _register_unary(name: str, fn: Callable[[float], float]) -> None:
    def impl(ctx: Any, x: float) -> float:
        return _safe(fn, _f(x, name))

    impl.__doc__ = f"math.{name}(x)"
    builtin("math", name)(impl)


def _register_binary(
    name: str, params: tuple[str, str], fn: Callable[[float, float], float]
) -> None:
    a, b = params

    def impl(ctx: Any, **kw: Any) -> float:
        if a not in kw or b not in kw:
            raise FluxTypeError(f"math.{name}: missing argument {a!r} or {b!r}")
        return _safe(fn, _f(kw[a], name, a), _f(kw[b], name, b))

    impl.__doc__ = f"math.{name}({a}, {b})"
    builtin("math", name)(impl)


for _n, _fn in _UNARY.items():
    _register_unary(_n, _fn)
for _n, (_params, _fn2) in _BINARY.items():
    _register_binary(_n, _params, _fn2)


def _erfinv(x: float) -> float:
    """Inverse error function via the normal quantile: erf^-1(x) = Phi^-1((x+1)/2)/sqrt(2)."""
    if x == 1:
        return math_inf
    if x == -1:
        return -math_inf
    if not -1 < x < 1:
        return float("nan")
    from statistics import NormalDist

    return NormalDist().inv_cdf((x + 1.0) / 2.0) / pymath.sqrt(2.0)


math_inf = float("inf")


@builtin("math")
def erfinv(ctx: Any, x: float) -> float:
    return _erfinv(_f(x, "erfinv"))


@builtin("math")
def erfcinv(ctx: Any, x: float) -> float:
    return _erfinv(1.0 - _f(x, "erfcinv"))


@builtin("math")
def jn(ctx: Any, n: int, x: float) -> float:
    return _bessel("jv", _f(x, "jn"), n)


@builtin("math")
def yn(ctx: Any, n: int, x: float) -> float:
    return _bessel("yn", _f(x, "yn"), n)


@builtin("math")
def isInf(ctx: Any, f: float, sign: int) -> bool:  # noqa: N802
    x = _f(f, "isInf", "f")
    return pymath.isinf(x) and (sign == 0 or (sign > 0) == (x > 0))


@builtin("math")
def isNaN(ctx: Any, f: float) -> bool:  # noqa: N802
    return pymath.isnan(_f(f, "isNaN", "f"))


@builtin("math")
def NaN(ctx: Any) -> float:  # noqa: N802
    return float("nan")


@builtin("math")
def mInf(ctx: Any, sign: int) -> float:  # noqa: N802
    return float("inf") if sign >= 0 else float("-inf")


@builtin("math")
def signbit(ctx: Any, x: float) -> bool:
    return pymath.copysign(1.0, _f(x, "signbit")) < 0


@builtin("math")
def pow10(ctx: Any, n: int) -> float:
    return _safe(lambda v: 10.0**v, n)


@builtin("math")
def ilogb(ctx: Any, x: float) -> int:
    v = _f(x, "ilogb")
    return pymath.frexp(v)[1] - 1 if v else -(2**31)


@builtin("math")
def frexp(ctx: Any, f: float) -> dict[str, Any]:
    frac, exp = pymath.frexp(_f(f, "frexp", "f"))
    return {"frac": frac, "exp": exp}


@builtin("math")
def ldexp(ctx: Any, frac: float, exp: int) -> float:
    return _safe(pymath.ldexp, _f(frac, "ldexp", "frac"), exp)


@builtin("math")
def modf(ctx: Any, f: float) -> dict[str, float]:
    frac, whole = pymath.modf(_f(f, "modf", "f"))
    return {"int": whole, "frac": frac}


@builtin("math")
def sincos(ctx: Any, x: float) -> dict[str, float]:
    v = _f(x, "sincos")
    return {"sin": pymath.sin(v), "cos": pymath.cos(v)}


@builtin("math")
def lgamma(ctx: Any, x: float) -> dict[str, Any]:
    v = _f(x, "lgamma")
    sign = -1 if v < 0 and pymath.floor(v) % 2 == 1 and v != pymath.floor(v) else 1
    return {"lgamma": _safe(pymath.lgamma, v), "sign": sign}


@builtin("math")
def float64bits(ctx: Any, f: float) -> Unsigned:
    return Unsigned(struct.unpack("<Q", struct.pack("<d", _f(f, "float64bits", "f")))[0])


@builtin("math")
def float64frombits(ctx: Any, b: Any) -> float:
    return struct.unpack("<d", struct.pack("<Q", int(b)))[0]


# ---------------------------------------------------------------- vector forms


def _register_vector_forms() -> None:
    """Polars forms of the common functions for the row-function compiler."""
    try:
        from fluxlab.flux.compile import VECTOR_NATIVES, Compiled
    except ImportError:  # pragma: no cover - compiler not present
        return

    def unary(expr_fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[dict[str, Any]], Any]:
        def impl(args: dict[str, Any]) -> Any:
            x = args.get("x")
            if x is None or x.kind != "float":
                from fluxlab.flux.compile import NotCompilable

                raise NotCompilable("math function needs a float argument")
            return Compiled(expr_fn(x.expr), "float")

        return impl

    def binary(expr_fn: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> Callable[[dict[str, Any]], Any]:
        def impl(args: dict[str, Any]) -> Any:
            x, y = args.get("x"), args.get("y")
            if x is None or y is None or x.kind != "float" or y.kind != "float":
                from fluxlab.flux.compile import NotCompilable

                raise NotCompilable("math function needs float arguments")
            return Compiled(expr_fn(x.expr, y.expr), "float")

        return impl

    away = lambda e: (e.abs() + 0.5).floor() * e.sign()  # noqa: E731
    forms = {
        "abs": unary(lambda e: e.abs()),
        "ceil": unary(lambda e: e.ceil()),
        "floor": unary(lambda e: e.floor()),
        "round": unary(lambda e: pl.when(e.is_finite()).then(away(e)).otherwise(e)),
        "sqrt": unary(lambda e: e.sqrt()),
        "exp": unary(lambda e: e.exp()),
        "log": unary(lambda e: e.log()),
        "log10": unary(lambda e: e.log10()),
        "pow": binary(lambda x, y: x.pow(y)),
        "mMax": binary(
            lambda x, y: (
                pl.when(x.is_nan() | y.is_nan()).then(float("nan")).when(x > y).then(x).otherwise(y)
            )
        ),
        "mMin": binary(
            lambda x, y: (
                pl.when(x.is_nan() | y.is_nan()).then(float("nan")).when(x < y).then(x).otherwise(y)
            )
        ),
    }
    for name, impl in forms.items():
        VECTOR_NATIVES[("math", name)] = impl


_register_vector_forms()
