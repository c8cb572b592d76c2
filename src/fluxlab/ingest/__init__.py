"""Layer 3 — readers (line protocol, annotated CSV, mapped CSV) producing Arrow batches,
transforms, error accounting, external sort. Imports `model` and `storage`.

Public API (used by the CLI and backends):

    ingest_file(store, bucket, path, *, format="auto"|"lp"|"csv"|"annotated", mapping=None,
                precision="ns", max_errors=0, rejects_path=None, dry_run=None, sort=False,
                on_collision="keep-last", progress=None, ...) -> IngestAccount
    ingest_stream(store, bucket, binary_stream, *, source_name="<stdin>", suffix="", **same)
    load_mapping(path) -> Mapping          (raises MappingError with file/key/what to do)
    IngestAccount: rows_read/written/rejected/skipped, collisions, to_dict(), rich_table(),
                   exit_code (1 when the error budget stopped the run)
"""

from fluxlab.ingest.account import IngestAccount
from fluxlab.ingest.detect import FORMATS, FormatError
from fluxlab.ingest.mapping import Mapping, MappingError, load_mapping
from fluxlab.ingest.pipeline import UNLIMITED, ingest_file, ingest_stream
from fluxlab.ingest.readers.base import ReaderError
from fluxlab.model.timeparse import TimeFormatError

__all__ = [
    "FORMATS",
    "FormatError",
    "IngestAccount",
    "Mapping",
    "MappingError",
    "ReaderError",
    "TimeFormatError",
    "UNLIMITED",
    "ingest_file",
    "ingest_stream",
    "load_mapping",
]
