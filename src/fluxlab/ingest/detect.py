"""Guessing the input format from the file name and its first bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

FORMATS = ("auto", "lp", "csv", "annotated")
"""`lp`: line protocol; `csv`: generic CSV + mapping; `annotated`: InfluxDB annotated CSV."""

_LP_SUFFIXES = (".lp", ".line", ".lines", ".influx", ".txt")
_ANNOTATIONS = (b"#datatype", b"#group", b"#default", b"#constant", b"#timezone", b"sep=")


class FormatError(ValueError):
    """The format is unknown or cannot be used with the given options."""


def detect_format(path: Path, *, has_mapping: bool, head: bytes | None = None) -> str:
    """`csv` when a mapping is given, else by extension, else by content."""
    if has_mapping:
        return "csv"
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(_LP_SUFFIXES):
        return "lp"
    head = read_head(path) if head is None else head
    first = _first_content_line(head)
    if first.lower().startswith(_ANNOTATIONS) or name.endswith(".csv"):
        return "annotated"
    if b"|" in first.split(b" ")[0] or b"_measurement" in first:
        return "annotated"
    return "lp"


def read_head(path: Path, size: int = 64 * 1024) -> bytes:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            return gz.read(size)
    with open(path, "rb") as fh:
        return fh.read(size)


def _first_content_line(head: bytes) -> bytes:
    for line in head.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(b"# "):
            return stripped
    return b""


def check_format(fmt: str, *, has_mapping: bool) -> str:
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv" and not has_mapping:
        raise FormatError(
            "format csv needs a mapping file (--mapping); without one, CSV must be "
            "InfluxDB annotated CSV (--format annotated)"
        )
    if has_mapping and fmt not in ("auto", "csv"):
        raise FormatError(f"a mapping file only applies to format csv, not {fmt}")
    return fmt
