"""Cutting a CSV byte stream into pieces that end exactly at a record boundary.

Why: Arrow's CSV reader only finds record boundaries by itself when it is told that
values may hold newlines, and its quote-aware boundary search then doubles the cost
of parsing (measured: 0.71 vs 0.37 CPU-s for 709K Hartford rows). We find the
boundaries here, with a few vectorized passes over the quote bytes, and hand Arrow
whole records, which it parses exactly (quoted newlines included) in its fast mode.

A newline ends a record when the number of quote characters before it (since the
piece began, which is outside quotes) is even. That holds whenever every quote plays
the role its parity gives it: an even-numbered quote opens a quoted value (it follows
a delimiter, a line break, another quote or the piece start) and an odd-numbered one
closes it (it precedes a delimiter, a line break, another quote or the piece end);
doubled quotes are adjacent, so they never change the parity seen at a newline. A
piece where some quote breaks that rule (a stray `12" TV` inside an unquoted value)
is not cut here: `record_end` returns None and the caller falls back to Arrow's own
quote-aware reader for the rest of the input, so the result is exact either way.
"""

from __future__ import annotations

import numpy as np

QUOTE = ord('"')
_LINE_BREAKS = (ord("\n"), ord("\r"))


def record_end(piece: bytes, delimiter: str = ",") -> int | None:
    """Length of the longest prefix of `piece` made of whole records, 0 if none ends in
    it, or None when the quoting cannot be read by parity (see the module docstring)."""
    last = piece.rfind(b"\n")
    if last < 0:
        return 0
    if piece.find(b'"', 0, last) < 0:  # no quotes at all: the common fast case
        return last + 1
    data = np.frombuffer(piece, dtype=np.uint8)
    quotes = np.flatnonzero(data == QUOTE)
    if not _parity_is_exact(data, quotes, ord(delimiter)):
        return None
    while last >= 0:
        if np.searchsorted(quotes, last) % 2 == 0:
            return last + 1
        last = piece.rfind(b"\n", 0, last)
    return 0


def _parity_is_exact(data: np.ndarray, quotes: np.ndarray, delimiter: int) -> bool:
    """Every even-numbered quote can open a value, every odd-numbered one can close it."""
    opening, closing = quotes[0::2], quotes[1::2]
    before = data[np.maximum(opening - 1, 0)]
    opens = (opening == 0) | _is_boundary(before, delimiter)
    after_pos = closing + 1
    inside = after_pos < data.size
    after = data[np.minimum(after_pos, data.size - 1)]
    closes = ~inside | _is_boundary(after, delimiter)
    return bool(opens.all() and closes.all())


def _is_boundary(chars: np.ndarray, delimiter: int) -> np.ndarray:
    return (
        (chars == delimiter) | (chars == QUOTE) | (chars == _LINE_BREAKS[0])
        | (chars == _LINE_BREAKS[1])
    )
