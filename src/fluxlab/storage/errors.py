"""Exceptions of the storage layer: each message says what went wrong and what to do."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error the store raises on purpose."""


class BucketNotFound(StoreError, KeyError):
    """A bucket name that the catalog does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"bucket {name!r} not found (list buckets to see the names that exist)")
        self.name = name

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class BucketExists(StoreError):
    """Creating or renaming a bucket onto a name that is already used."""


class StoreLocked(StoreError):
    """Another process (or another Store object) holds the store."""


class ReadOnlyError(StoreError):
    """A change was requested on a store opened with read_only=True."""


class CollisionError(StoreError):
    """on_collision="error" and a point would overwrite another; nothing was written."""


class PredicateError(StoreError, ValueError):
    """A delete predicate that does not parse or uses something InfluxDB does not allow."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        where = ""
        if position is not None:
            where = f" at position {position + 1}: {text!r}\n{' ' * (position + 1)}^"
        super().__init__(f"{message}{where}")
        self.position = position


class BatchError(StoreError, ValueError):
    """A PointBatch whose columns cannot be stored (wrong type, null time, ...)."""


class UserSqlError(StoreError):
    """store.sql() was given something other than read-only queries, or it failed."""
