"""Layer 2 — the embedded time-series engine on DuckDB. Imports only `fluxlab.model`."""

from fluxlab.storage.catalog import Bucket
from fluxlab.storage.compact import CompactReport
from fluxlab.storage.errors import (
    BatchError,
    BucketExists,
    BucketNotFound,
    CollisionError,
    PredicateError,
    ReadOnlyError,
    StoreError,
    StoreLocked,
    UserSqlError,
)
from fluxlab.storage.predicate import And, Cmp, Not, Or, Predicate, parse_delete_predicate
from fluxlab.storage.results import CheckReport, CollisionReport, FieldTypeConflict, WriteResult
from fluxlab.storage.store import Store

__all__ = [
    "And",
    "BatchError",
    "Bucket",
    "BucketExists",
    "BucketNotFound",
    "CheckReport",
    "Cmp",
    "CollisionError",
    "CollisionReport",
    "CompactReport",
    "FieldTypeConflict",
    "Not",
    "Or",
    "Predicate",
    "PredicateError",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreLocked",
    "UserSqlError",
    "WriteResult",
    "parse_delete_predicate",
]
