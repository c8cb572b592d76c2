"""Cutting values out of a window's raw bytes without copying them byte by byte.

The fast path knows the byte range of every value. Strings become Arrow string *views*
(16 bytes per value: length, prefix and an offset into the window's buffer, or the whole
value inline when it is at most 12 bytes), so no string bytes are gathered here; Polars
takes the views as they are and its casts and regexes run on them. Fixed-size reads
(key bytes, boolean spellings) are 8-byte loads through an unaligned uint64 view of the
buffer, one gather per word instead of a byte matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

_PADDING = 64
"""Zero bytes appended to the buffer so 8-byte loads near its end stay inside."""

_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], np.uint64)
"""_MASKS[k] keeps the low k bytes of a little-endian word (k = 0..8)."""
_HIGH_MASKS = _MASKS[:5] << np.uint64(32)
"""_HIGH_MASKS[k] keeps the low k bytes of the high half of a word (k = 0..4)."""

_VIEW_LIMIT = 2**31
"""String views address their buffer with int32 offsets; larger windows copy instead."""

_INLINE = 12
"""Values up to this many bytes are stored inside the view itself (Arrow format)."""


@dataclass(frozen=True)
class _Bytes:
    """A window's bytes as a padded uint8 array, an unaligned uint64 view (`u64[i]` is the
    8 bytes at offset i) and the Arrow buffer string views point into."""

    buf: np.ndarray
    u64: np.ndarray
    arrow: pa.Buffer

    @classmethod
    def of(cls, raw: bytes) -> _Bytes:
        """Copy `raw` into a padded array (a NumPy copy, which releases the GIL)."""
        buf = np.empty(len(raw) + _PADDING, np.uint8)
        buf[: len(raw)] = np.frombuffer(raw, np.uint8)
        buf[len(raw) :] = 0
        return cls.padded(buf)

    @classmethod
    def padded(cls, buf: np.ndarray) -> _Bytes:
        """Wrap a uint8 array that already ends with `_PADDING` zero bytes."""
        u64 = np.ndarray((len(buf) - 7,), "<u8", buffer=buf, strides=(1,))
        return cls(buf, u64, pa.py_buffer(buf))

    def without(self, offsets: np.ndarray) -> _Bytes:
        """A copy without the bytes at `offsets` (the padding stays at the end)."""
        keep = np.ones(len(self.buf), bool)
        keep[offsets] = False
        return _Bytes.padded(self.buf[keep])

    def word(self, starts: np.ndarray, size: int = 8) -> np.ndarray:
        """The first `size` (<= 8) bytes at each start as a uint64, later bytes zeroed."""
        word = self.u64[starts]
        return word if size >= 8 else word & _MASKS[size]

    def words(self, starts: np.ndarray, size: int) -> list[np.ndarray]:
        """The `size` bytes at each start as ceil(size/8) uint64 columns (comparable)."""
        return [self.word(starts + at, min(8, size - at)) for at in range(0, size, 8)]

    def strings(self, starts: np.ndarray, ends: np.ndarray) -> pl.Series:
        """A Polars string column of the byte ranges (input already checked to be UTF-8)."""
        if len(self.buf) >= _VIEW_LIMIT:
            return self._copied_strings(starts, ends)
        starts = starts.astype(np.int64, copy=False)  # reinterpreted as uint64 below
        lengths = ends.astype(np.int64, copy=False) - starts
        n = len(starts)
        shortest, longest = (int(lengths.min()), int(lengths.max())) if n else (0, 0)
        views = np.empty((n, 2), np.uint64)
        head, tail = views[:, 0], views[:, 1]
        # head: length, then the first 4 bytes (zeroed past the length) in the high half
        np.left_shift(self.u64[starts], np.uint64(32), out=head)
        if shortest < 4:
            head &= _HIGH_MASKS[np.minimum(lengths, 4)]
        head |= lengths.view(np.uint64)
        # tail: bytes 4..11 when inline, else buffer 0 and the offset in the high half
        offsets = starts.view(np.uint64) << np.uint64(32) if longest > _INLINE else None
        if offsets is not None and shortest > _INLINE:
            tail[:] = offsets
        else:
            inline = self.u64[starts + 4]
            if shortest < _INLINE:
                inline &= _MASKS[np.clip(lengths - 4, 0, 8)]
            if offsets is not None:
                np.copyto(inline, offsets, where=lengths > _INLINE)
            tail[:] = inline
        array = pa.Array.from_buffers(
            pa.string_view(), len(starts), [None, pa.py_buffer(views), self.arrow]
        )
        series = pl.from_arrow(array)
        assert isinstance(series, pl.Series)
        return series

    def _copied_strings(self, starts: np.ndarray, ends: np.ndarray) -> pl.Series:
        """Fallback for windows beyond int32 offsets: gather the bytes into a large string."""
        lengths = ends - starts
        offsets = np.zeros(len(starts) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
        array = pa.LargeStringArray.from_buffers(
            len(starts), pa.py_buffer(offsets), pa.py_buffer(self.buf[index])
        )
        series = pl.from_arrow(array)
        assert isinstance(series, pl.Series)
        return series
