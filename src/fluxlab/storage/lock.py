"""Process lock on a store directory.

DuckDB lets one process write a database file; its own error for a second process is a
raw I/O message. We take an flock first (exclusive for writers, shared for readers) so
users get "store is in use by another process (pid N)" and the store never sees two
writers. flock is released by the kernel when a process dies, even with SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from fluxlab.storage.errors import StoreLocked

LOCK_NAME = "store.lock"


class StoreLock:
    """Holds the flock for the lifetime of a Store object."""

    def __init__(self, directory: Path, *, shared: bool) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder()
            os.close(self._fd)
            self._fd = None
            raise StoreLocked(
                f"store {directory} is in use by another process (pid {holder}); "
                "close that process or wait for it to finish"
                + ("" if shared else ", or open the store read-only")
            ) from None
        if not shared:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def _read_holder(self) -> str:
        try:
            text = os.pread(self._fd or -1, 32, 0).decode().strip()
        except OSError:
            text = ""
        return text or "unknown"

    def release(self) -> None:
        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
