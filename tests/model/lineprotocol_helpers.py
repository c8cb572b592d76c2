"""Helpers for the line protocol tests: decode both ways and compare."""

from __future__ import annotations

from typing import Any

from fluxlab.model.lineprotocol import DecodeResult, decode


def rows(result: DecodeResult, measurement: str | None = None) -> list[dict[str, Any]]:
    """Rows of one measurement's batch (the only batch if None), without null columns."""
    batches = [b for b in result.batches if measurement in (None, b.measurement)]
    assert len(batches) == 1, [b.measurement for b in result.batches]
    return [
        {k: v for k, v in row.items() if v is not None} for row in batches[0].table.to_pylist()
    ]


def decode_both(data: bytes | str, **options: Any) -> DecodeResult:
    """Decode with both paths, assert they agree exactly, return the vectorized result."""
    fast_result = decode(data, _fast=True, **options)
    exact_result = decode(data, _fast=False, **options)
    assert fast_result.errors == exact_result.errors
    assert fast_result.lines_read == exact_result.lines_read
    assert fast_result.lines_skipped == exact_result.lines_skipped
    assert len(fast_result.batches) == len(exact_result.batches)
    for a, b in zip(fast_result.batches, exact_result.batches, strict=True):
        assert (a.measurement, a.tags, a.fields) == (b.measurement, b.tags, b.fields)
        assert a.table.equals(b.table), (a.table.to_pylist(), b.table.to_pylist())
    return fast_result
