"""Opening inputs: plain or gzip files and binary streams, with a byte counter for progress.

The counter sits under the decompressor, so progress is measured in bytes of the
file on disk (what the progress bar's total is), even for `.gz` inputs.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path
from typing import BinaryIO, TextIO

GZIP_MAGIC = b"\x1f\x8b"


class CountingReader(io.RawIOBase):
    """A read-only raw stream that counts the bytes read from the wrapped stream."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read straight into the caller's buffer (no temporary copy of each block)."""
        readinto = getattr(self._inner, "readinto", None)
        if readinto is not None:
            n = readinto(buffer) or 0
        else:
            data = self._inner.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


class OpenedSource:
    """A decompressed binary stream over a file plus the count of raw bytes consumed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._counter = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed in close()
        raw = io.BufferedReader(self._counter, buffer_size=1 << 20)
        self.stream: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip(path) else raw  # type: ignore[assignment]
        )

    @property
    def bytes_read(self) -> int:
        return self._counter.count

    def close(self) -> None:
        self.stream.close()
        self._counter.close()

    def __enter__(self) -> OpenedSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spool_stream(
    stream: BinaryIO | TextIO, directory: str | None = None, suffix: str = ""
) -> Path:
    """Copy a stream (stdin, binary or text) to a temporary file to read it like any file.

    Memory stays bounded (copied in 1 MiB pieces) and readers get a seekable, sized
    input with exact byte progress. Text streams are read through their binary
    buffer when they have one, else encoded as UTF-8. The caller deletes the file.
    """
    source = getattr(stream, "buffer", stream)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - path returned to caller
        prefix="fluxlab-stdin-", suffix=suffix, dir=directory, delete=False
    )
    with handle:
        while piece := source.read(1 << 20):
            handle.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
    return Path(handle.name)
