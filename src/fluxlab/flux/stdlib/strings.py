"""Package "strings": Flux's string functions, with Go's `strings` semantics.

Flux implements these with Go's standard library, so where Python differs the Go
behaviour wins: `index`-style results are UTF-8 byte offsets, `split` on "" splits
into characters, `splitN(i: 0)` is empty, `title` capitalises after any non-letter.
A null `v` gives null (so `map`/`filter` over rows with missing values do not fail).
Row-wise map/filter calls of the common ones also have Polars vector forms in
`fluxlab.flux.compile`; these scalar forms are the reference behaviour.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.values import type_name

PKG = "strings"


def _str(value: Any, fname: str, param: str) -> str:
    if not isinstance(value, str):
        raise FluxTypeError(f"strings.{fname}: {param} must be a string, got {type_name(value)}")
    return value


def _int(value: Any, fname: str, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FluxTypeError(f"strings.{fname}: {param} must be an int, got {type_name(value)}")
    return int(value)


def _byte_offset(s: str, char_index: int) -> int:
    """Go reports string positions in UTF-8 bytes; Python in code points."""
    if char_index < 0 or s.isascii():
        return char_index
    return len(s[:char_index].encode("utf-8"))


def _map_chars(s: str, fn: Callable[[str], str]) -> str:
    """Apply a per-character case mapping the way Go does: one rune in, one rune out."""
    out = []
    for ch in s:
        mapped = fn(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


# ---------------------------------------------------------------------- case


@builtin(PKG)
def toUpper(ctx: Any, v: Any) -> str | None:
    if v is None:
        return None
    s = _str(v, "toUpper", "v")
    return s.upper() if s.isascii() else _map_chars(s, str.upper)


@builtin(PKG)
def toLower(ctx: Any, v: Any) -> str | None:
    if v is None:
        return None
    s = _str(v, "toLower", "v")
    return s.lower() if s.isascii() else _map_chars(s, str.lower)


@builtin(PKG)
def toTitle(ctx: Any, v: Any) -> str | None:
    """Every letter in title case (Go strings.ToTitle)."""
    if v is None:
        return None
    return _map_chars(_str(v, "toTitle", "v"), str.title)


def _is_word_separator(ch: str) -> bool:
    """Go strings.Title's notion of a word boundary."""
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


@builtin(PKG)
def title(ctx: Any, v: Any) -> str | None:
    """First letter of each word upper-cased, the rest unchanged (Go strings.Title)."""
    if v is None:
        return None
    s = _str(v, "title", "v")
    out = []
    prev_separator = True
    for ch in s:
        if prev_separator:
            mapped = ch.title()
            out.append(mapped if len(mapped) == 1 else ch)
        else:
            out.append(ch)
        prev_separator = _is_word_separator(ch)
    return "".join(out)


# ---------------------------------------------------------------------- trimming


@builtin(PKG)
def trim(ctx: Any, v: Any, cutset: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trim", "v").strip(_str(cutset, "trim", "cutset"))


@builtin(PKG)
def trimLeft(ctx: Any, v: Any, cutset: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trimLeft", "v").lstrip(_str(cutset, "trimLeft", "cutset"))


@builtin(PKG)
def trimRight(ctx: Any, v: Any, cutset: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trimRight", "v").rstrip(_str(cutset, "trimRight", "cutset"))


@builtin(PKG)
def trimSpace(ctx: Any, v: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trimSpace", "v").strip()


@builtin(PKG)
def trimPrefix(ctx: Any, v: Any, prefix: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trimPrefix", "v").removeprefix(_str(prefix, "trimPrefix", "prefix"))


@builtin(PKG)
def trimSuffix(ctx: Any, v: Any, suffix: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "trimSuffix", "v").removesuffix(_str(suffix, "trimSuffix", "suffix"))


# ---------------------------------------------------------------------- replace, repeat


@builtin(PKG)
def replace(ctx: Any, v: Any, t: Any, u: Any, i: Any) -> str | None:
    """Replace the first `i` occurrences of `t` (all of them when `i` < 0)."""
    if v is None:
        return None
    s = _str(v, "replace", "v")
    count = _int(i, "replace", "i")
    return s.replace(_str(t, "replace", "t"), _str(u, "replace", "u"), count if count >= 0 else -1)


@builtin(PKG)
def replaceAll(ctx: Any, v: Any, t: Any, u: Any) -> str | None:
    if v is None:
        return None
    return _str(v, "replaceAll", "v").replace(
        _str(t, "replaceAll", "t"), _str(u, "replaceAll", "u")
    )


@builtin(PKG)
def repeat(ctx: Any, v: Any, i: Any) -> str | None:
    if v is None:
        return None
    count = _int(i, "repeat", "i")
    if count < 0:
        raise FluxRuntimeError(f"strings.repeat: i must not be negative, got {count}")
    return _str(v, "repeat", "v") * count


# ---------------------------------------------------------------------- split, join


def _split(s: str, sep: str, n: int, keep_sep: bool) -> list[str]:
    """Go's genSplit: at most `n` pieces (all when n < 0, none when n == 0)."""
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    pieces = s.split(sep, n - 1 if n > 0 else -1)
    if keep_sep:
        pieces = [p + sep for p in pieces[:-1]] + pieces[-1:]
    return pieces


@builtin(PKG)
def split(ctx: Any, v: Any, t: Any) -> list[str] | None:
    if v is None:
        return None
    return _split(_str(v, "split", "v"), _str(t, "split", "t"), -1, keep_sep=False)


@builtin(PKG)
def splitN(ctx: Any, v: Any, t: Any, i: Any) -> list[str] | None:
    if v is None:
        return None
    return _split(_str(v, "splitN", "v"), _str(t, "splitN", "t"), _int(i, "splitN", "i"), False)


@builtin(PKG)
def splitAfter(ctx: Any, v: Any, t: Any) -> list[str] | None:
    if v is None:
        return None
    return _split(_str(v, "splitAfter", "v"), _str(t, "splitAfter", "t"), -1, keep_sep=True)


@builtin(PKG)
def splitAfterN(ctx: Any, v: Any, t: Any, i: Any) -> list[str] | None:
    if v is None:
        return None
    s = _str(v, "splitAfterN", "v")
    return _split(s, _str(t, "splitAfterN", "t"), _int(i, "splitAfterN", "i"), keep_sep=True)


@builtin(PKG)
def joinStr(ctx: Any, arr: Any, v: Any) -> str:
    if not isinstance(arr, list):
        raise FluxTypeError(f"strings.joinStr: arr must be an array, got {type_name(arr)}")
    items = [_str(item, "joinStr", "arr element") for item in arr]
    return _str(v, "joinStr", "v").join(items)


# ---------------------------------------------------------------------- search, compare


@builtin(PKG)
def containsStr(ctx: Any, v: Any, substr: Any) -> bool | None:
    if v is None:
        return None
    return _str(substr, "containsStr", "substr") in _str(v, "containsStr", "v")


@builtin(PKG)
def containsAny(ctx: Any, v: Any, chars: Any) -> bool | None:
    if v is None:
        return None
    s = _str(v, "containsAny", "v")
    return any(ch in s for ch in _str(chars, "containsAny", "chars"))


@builtin(PKG)
def hasPrefix(ctx: Any, v: Any, prefix: Any) -> bool | None:
    if v is None:
        return None
    return _str(v, "hasPrefix", "v").startswith(_str(prefix, "hasPrefix", "prefix"))


@builtin(PKG)
def hasSuffix(ctx: Any, v: Any, suffix: Any) -> bool | None:
    if v is None:
        return None
    return _str(v, "hasSuffix", "v").endswith(_str(suffix, "hasSuffix", "suffix"))


@builtin(PKG)
def countStr(ctx: Any, v: Any, substr: Any) -> int | None:
    """Non-overlapping occurrences; an empty substr counts characters + 1, as in Go."""
    if v is None:
        return None
    return _str(v, "countStr", "v").count(_str(substr, "countStr", "substr"))


@builtin(PKG)
def index(ctx: Any, v: Any, substr: Any) -> int | None:
    """Byte offset of the first `substr`, or -1."""
    if v is None:
        return None
    s = _str(v, "index", "v")
    return _byte_offset(s, s.find(_str(substr, "index", "substr")))


@builtin(PKG)
def lastIndex(ctx: Any, v: Any, substr: Any) -> int | None:
    """Byte offset of the last `substr`, or -1."""
    if v is None:
        return None
    s = _str(v, "lastIndex", "v")
    return _byte_offset(s, s.rfind(_str(substr, "lastIndex", "substr")))


@builtin(PKG)
def indexAny(ctx: Any, v: Any, chars: Any) -> int | None:
    """Byte offset of the first character of `v` that is in `chars`, or -1."""
    if v is None:
        return None
    s, wanted = _str(v, "indexAny", "v"), set(_str(chars, "indexAny", "chars"))
    pos = next((i for i, ch in enumerate(s) if ch in wanted), -1)
    return _byte_offset(s, pos)


@builtin(PKG)
def lastIndexAny(ctx: Any, v: Any, chars: Any) -> int | None:
    """Byte offset of the last character of `v` that is in `chars`, or -1."""
    if v is None:
        return None
    s, wanted = _str(v, "lastIndexAny", "v"), set(_str(chars, "lastIndexAny", "chars"))
    pos = next((i for i in range(len(s) - 1, -1, -1) if s[i] in wanted), -1)
    return _byte_offset(s, pos)


@builtin(PKG)
def compare(ctx: Any, v: Any, t: Any) -> int:
    """-1, 0 or 1 (code-point order equals Go's UTF-8 byte order)."""
    a, b = _str(v, "compare", "v"), _str(t, "compare", "t")
    return (a > b) - (a < b)


@builtin(PKG)
def equalFold(ctx: Any, v: Any, t: Any) -> bool:
    """Equal under simple (one rune to one rune) case folding, like Go's EqualFold."""
    a, b = _str(v, "equalFold", "v"), _str(t, "equalFold", "t")
    if len(a) != len(b):
        return False
    return all(
        x == y or x.lower() == y.lower() or x.upper() == y.upper() for x, y in zip(a, b, strict=True)
    )


# ---------------------------------------------------------------------- length, substring


@builtin(PKG)
def strlen(ctx: Any, v: Any) -> int | None:
    """Number of characters (Unicode code points), not bytes."""
    if v is None:
        return None
    return len(_str(v, "strlen", "v"))


@builtin(PKG)
def substring(ctx: Any, v: Any, start: Any, end: Any) -> str | None:
    """Characters [start, end), indices clamped to the string; "" when end <= start."""
    if v is None:
        return None
    s = _str(v, "substring", "v")
    lo = max(0, _int(start, "substring", "start"))
    hi = min(len(s), _int(end, "substring", "end"))
    return s[lo:hi] if hi > lo else ""


# ---------------------------------------------------------------------- character classes


def _single_char(v: Any, fname: str) -> str:
    s = _str(v, fname, "v")
    if len(s) != 1:
        raise FluxRuntimeError(f"strings.{fname}: v must be a single character, got {s!r}")
    return s


@builtin(PKG)
def isDigit(ctx: Any, v: Any) -> bool | None:
    if v is None:
        return None
    return _single_char(v, "isDigit").isdecimal()


@builtin(PKG)
def isLetter(ctx: Any, v: Any) -> bool | None:
    if v is None:
        return None
    return _single_char(v, "isLetter").isalpha()


@builtin(PKG)
def isLower(ctx: Any, v: Any) -> bool | None:
    if v is None:
        return None
    return unicodedata.category(_single_char(v, "isLower")) == "Ll"


@builtin(PKG)
def isUpper(ctx: Any, v: Any) -> bool | None:
    if v is None:
        return None
    return unicodedata.category(_single_char(v, "isUpper")) == "Lu"
