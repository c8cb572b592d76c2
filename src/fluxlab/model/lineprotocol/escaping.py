"""Escaping of measurement names, keys and string values, for one value (`_escape_name`) and
vectorized as a Polars expression (`_escape_name_expr`). The two forms take the same steps so
`encode_point` and `encode_batch` write identical text; they sit together, apart from the
encoder, so the rules can be read and tested as one unit."""

from __future__ import annotations

import re

import polars as pl

from fluxlab.model.lineprotocol.syntax import _KEY_SPECIALS, _MEASUREMENT_SPECIALS


def escape_measurement(name: str) -> str:
    """Escape a measurement name (comma, space; backslashes where they would be read as escapes)."""
    return _escape_name(name, _MEASUREMENT_SPECIALS)


def escape_key(name: str) -> str:
    """Escape a tag key, tag value or field key (comma, equals sign, space)."""
    return _escape_name(name, _KEY_SPECIALS)


def escape_string_value(value: str) -> str:
    """Quote a string field value, escaping backslashes and double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape_name(name: str, specials: str) -> str:
    """Escape `specials` and write backslashes so they decode back to themselves.

    A run of n backslashes before an ordinary character is written as 2n-1 (so a
    lone backslash stays as is, which parsers that do not unescape `\\\\` also read
    right); before a special character or at the end it is written as 2n, so it
    cannot swallow the character that follows. Same steps as `_escape_name_expr`.
    """
    cls = re.escape(specials)
    doubled = name.replace("\\", "\\\\")
    trimmed = re.sub(r"\\\\([^\\" + cls + "])", r"\\\1", doubled)
    return re.sub("([" + cls + "])", r"\\\1", trimmed)


def _escape_name_expr(value: pl.Expr, specials: str) -> pl.Expr:
    """Vectorized `_escape_name`: double backslashes, undo one before ordinary chars,
    then escape the special characters."""
    cls = re.escape(specials)
    doubled = value.str.replace_all("\\", "\\\\", literal=True)
    trimmed = doubled.str.replace_all(r"\\\\([^\\" + cls + "])", r"\${1}")
    return trimmed.str.replace_all("([" + cls + "])", r"\${1}")
