"""The `csv` package: csv.from() decodes annotated (or raw) CSV into tables."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.results import decode_stream
from fluxlab.flux.table import Stream, Table


@builtin("csv", "from")
def from_(
    ctx: Context, csv: str | None = None, file: str | None = None, mode: str = "annotations"
) -> Stream:
    """Tables from CSV text (`csv`) or a file path (`file`)."""
    if (csv is None) == (file is None):
        raise FluxRuntimeError("csv.from: give exactly one of csv or file")
    text = csv if csv is not None else _read_file(file or "")
    if mode == "annotations":
        return decode_stream(text)
    if mode == "raw":
        return _decode_raw(text)
    raise FluxRuntimeError(f'csv.from: mode must be "annotations" or "raw", got {mode!r}')


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FluxRuntimeError(f"csv.from: cannot read file {path!r}: {exc.strerror}") from exc


def _decode_raw(text: str) -> Stream:
    """Raw mode: the first row is the header, every value is a string, one table."""
    df = pl.read_csv(io.StringIO(text.strip("\n")), infer_schema=False)
    return Stream([Table((), (), df)])
