"""Package "regexp": Flux's regular-expression functions, with Go's `regexp` semantics.

Patterns are `fluxlab.flux.values.Regex` values (RE2 text compiled with Python's `re`).
Where Go and Python differ the Go behaviour is reproduced: match indices are UTF-8
byte offsets, replacement templates use `$1` / `${name}` (not `\\1`), `quoteMeta`
escapes exactly RE2's metacharacters, and empty matches right after a previous match
are skipped when splitting.
"""

from __future__ import annotations

import re
from typing import Any

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.values import Regex, type_name

PKG = "regexp"
_META = frozenset("\\.+*?()|[]{}^$")
_TEMPLATE_REF = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


def _regex(value: Any, fname: str) -> Regex:
    if not isinstance(value, Regex):
        raise FluxTypeError(f"regexp.{fname}: r must be a regexp, got {type_name(value)}")
    return value


def _str(value: Any, fname: str, param: str) -> str:
    if not isinstance(value, str):
        raise FluxTypeError(f"regexp.{fname}: {param} must be a string, got {type_name(value)}")
    return value


def _byte_offset(s: str, char_index: int) -> int:
    return char_index if s.isascii() else len(s[:char_index].encode("utf-8"))


def _go_find_all(pattern: re.Pattern[str], s: str, limit: int = -1) -> list[re.Match[str]]:
    """Go's FindAll: like finditer, minus empty matches abutting the previous match."""
    matches: list[re.Match[str]] = []
    prev_end = -1
    for m in pattern.finditer(s):
        if 0 <= limit <= len(matches):
            break
        if m.start() == m.end() and m.start() == prev_end:
            continue
        matches.append(m)
        prev_end = m.end()
    return matches


@builtin(PKG, "compile")
def compile_(ctx: Any, v: Any) -> Regex:
    source = _str(v, "compile", "v")
    try:
        return Regex.compile(source)
    except re.error as err:
        raise FluxRuntimeError(f"regexp.compile: invalid regular expression {source!r}: {err}") from None


@builtin(PKG)
def getString(ctx: Any, r: Any) -> str:
    return _regex(r, "getString").source


@builtin(PKG)
def matchRegexpString(ctx: Any, r: Any, v: Any) -> bool | None:
    if v is None:
        return None
    return _regex(r, "matchRegexpString").compiled.search(_str(v, "matchRegexpString", "v")) is not None


@builtin(PKG)
def findString(ctx: Any, r: Any, v: Any) -> str | None:
    """The leftmost match, or "" when there is none."""
    if v is None:
        return None
    m = _regex(r, "findString").compiled.search(_str(v, "findString", "v"))
    return m.group() if m else ""


@builtin(PKG)
def findStringIndex(ctx: Any, r: Any, v: Any) -> list[int] | None:
    """[start, end] byte offsets of the leftmost match, or [] when there is none."""
    if v is None:
        return None
    s = _str(v, "findStringIndex", "v")
    m = _regex(r, "findStringIndex").compiled.search(s)
    if m is None:
        return []
    return [_byte_offset(s, m.start()), _byte_offset(s, m.end())]


def _expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `$name`, `${name}`, `$$`; unknown groups expand to ""."""

    def ref(ref_m: re.Match[str]) -> str:
        name = ref_m.group(1) or ref_m.group(2)
        if name is None:
            return "$"
        try:
            group = m.group(int(name)) if name.isdecimal() else m.group(name)
        except IndexError:  # no such group number or name
            return ""
        return group or ""

    return _TEMPLATE_REF.sub(ref, template)


@builtin(PKG)
def replaceAllString(ctx: Any, r: Any, v: Any, t: Any) -> str | None:
    """Replace every match with template `t`, expanding `$1` / `${name}` like Go."""
    if v is None:
        return None
    s = _str(v, "replaceAllString", "v")
    template = _str(t, "replaceAllString", "t")
    pattern = _regex(r, "replaceAllString").compiled
    out: list[str] = []
    last = 0
    for m in _go_find_all(pattern, s):
        out.append(s[last : m.start()])
        out.append(_expand(template, m) if "$" in template else template)
        last = m.end()
    out.append(s[last:])
    return "".join(out)


@builtin(PKG)
def splitRegexp(ctx: Any, r: Any, v: Any, i: Any) -> list[str] | None:
    """Split around matches: at most `i` pieces (all when `i` < 0, none when 0), as Go."""
    if v is None:
        return None
    s = _str(v, "splitRegexp", "v")
    regex = _regex(r, "splitRegexp")
    if isinstance(i, bool) or not isinstance(i, int):
        raise FluxTypeError(f"regexp.splitRegexp: i must be an int, got {type_name(i)}")
    n = int(i)
    if n == 0:
        return []
    if regex.source and s == "":
        return [""]
    pieces: list[str] = []
    begin = end = 0
    for m in _go_find_all(regex.compiled, s, n):
        if n > 0 and len(pieces) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            pieces.append(s[begin:end])
        begin = m.end()
    if end != len(s):
        pieces.append(s[begin:])
    return pieces


@builtin(PKG)
def quoteMeta(ctx: Any, v: Any) -> str | None:
    """Escape RE2 metacharacters (exactly Go's set; Python's re.escape escapes more)."""
    if v is None:
        return None
    return "".join("\\" + ch if ch in _META else ch for ch in _str(v, "quoteMeta", "v"))
