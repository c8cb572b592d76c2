"""Opening the DuckDB database of a store with the settings the store relies on.

The store file is ATTACHed to an in-memory instance under a fixed catalog name, so
bucket catalogs for user SQL can never clash with the store's own name. After that,
file/network access is switched off and the configuration locked: user SQL then cannot
read files, install extensions or undo the limits, and the store itself never needs
external access (Arrow data is registered, not read from files).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from fluxlab.storage.errors import StoreError, StoreLocked
from fluxlab.storage.predicate import sql_string
from fluxlab.storage.usersql import STORE_CATALOG

DB_FILE = "fluxlab.duckdb"


@dataclass(frozen=True)
class EngineSettings:
    """Resource limits: the machine may be small and shared (2 cores, 1 GiB budget).

    memory_limit bounds DuckDB's buffer pool (it spills to <store>/tmp beyond it); the
    Python side of a streamed write (Arrow chunks, libraries) adds ~400 MB, so 256MB
    keeps a large write under 1 GiB of RSS (measured: see tests/storage/test_write_speed).
    """

    threads: int = 2
    memory_limit: str = "256MB"
    allow_external: bool = False


def open_database(
    directory: Path, *, read_only: bool, settings: EngineSettings
) -> duckdb.DuckDBPyConnection:
    db_file = directory / DB_FILE
    if read_only and not db_file.exists():
        raise StoreError(f"no store at {directory} (missing {DB_FILE}); create it first")
    config = {
        "threads": settings.threads,
        "memory_limit": settings.memory_limit,
        "preserve_insertion_order": False,
        "allocator_flush_threshold": "32MB",  # give freed memory back sooner (RSS budget)
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if not read_only:
        tmp = directory / "tmp"
        tmp.mkdir(exist_ok=True)
        config["temp_directory"] = str(tmp)
    else:  # a reader may not write into the store, but big sorts and joins must spill
        config["temp_directory"] = str(Path(tempfile.gettempdir()) / f"fluxlab-{os.getpid()}")
    con = duckdb.connect(":memory:", config=config)
    mode = " (READ_ONLY)" if read_only else ""
    try:
        con.execute(f"ATTACH {sql_string(str(db_file))} AS {STORE_CATALOG}{mode}")
    except duckdb.IOException as exc:
        con.close()
        if "lock" in str(exc).lower():
            raise StoreLocked(f"store {directory} is in use by another process: {exc}") from exc
        raise StoreError(f"cannot open store {directory}: {exc}") from exc
    con.execute(f"USE {STORE_CATALOG}")
    con.execute("SET enable_progress_bar = false")  # no DuckDB bars on the CLI's stderr
    if not settings.allow_external:
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
