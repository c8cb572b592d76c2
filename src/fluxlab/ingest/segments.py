"""Splitting an annotated CSV stream into tables without reading it all.

InfluxDB's annotated CSV can hold several tables, each introduced by annotation
rows (`#datatype ...`, `#group ...`) and a header row. `SegmentStream` is a
file-like view that ends where the next line starting with `#` begins, so each
table's data can go straight to Arrow's streaming CSV parser; the parent stream
then continues with the next table's annotations. It also counts the lines it
passed through, which gives every table its exact starting line number.
"""

from __future__ import annotations

import io
from typing import BinaryIO

_CHUNK = 1 << 20


class LookaheadStream:
    """A binary stream with a pushback buffer, read by whole lines or up to a `\\n#` boundary."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._buffer = b""
        self._eof = False
        self.lines_consumed = 0

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._inner.read(_CHUNK)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def peek(self, n: int) -> bytes:
        while len(self._buffer) < n and self._fill():
            pass
        return self._buffer[:n]

    def peek_byte(self) -> bytes:
        return self.peek(1)

    def readline(self) -> bytes:
        while b"\n" not in self._buffer and self._fill():
            pass
        cut = self._buffer.find(b"\n")
        cut = len(self._buffer) if cut < 0 else cut + 1
        line, self._buffer = self._buffer[:cut], self._buffer[cut:]
        if line.endswith(b"\n"):
            self.lines_consumed += 1
        return line

    def read_until_annotation(self, size: int) -> bytes:
        """Up to `size` bytes, stopping just after a newline that is followed by `#`."""
        while True:
            stop = self._buffer.find(b"\n#")
            if stop >= 0 or len(self._buffer) >= size + 1 or not self._fill():
                break
        stop = self._buffer.find(b"\n#")
        if stop >= 0 and stop + 1 <= size:
            cut = stop + 1
        else:
            cut = min(size, len(self._buffer))  # the byte after it is buffered (or EOF)
        piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
        self.lines_consumed += piece.count(b"\n")
        return piece

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._buffer


class SegmentStream(io.RawIOBase):
    """One table's data rows: reads from a LookaheadStream until the next annotation."""

    def __init__(self, parent: LookaheadStream) -> None:
        self._parent = parent
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._done:
            return 0
        piece = self._parent.read_until_annotation(len(buffer))
        if not piece:
            self._done = True
            return 0
        if piece.endswith(b"\n") and self._parent.peek_byte() == b"#":
            self._done = True
        n = len(piece)
        buffer[:n] = piece
        return n
