"""Bucket CRUD through the public Store API."""

from __future__ import annotations

from pathlib import Path

import pytest
from storage_helpers import make_batch

from fluxlab.storage import BucketExists, BucketNotFound, Store, StoreError


def test_create_get_list_buckets(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        created = store.create_bucket("birds", org="lab", description="tracks", retention_ns=0)
        store.create_bucket("police")
        assert store.get_bucket("birds") == created
        assert created.org == "lab" and created.description == "tracks"
        assert [b.name for b in store.list_buckets()] == ["birds", "police"]
        assert [b.name for b in store.list_buckets(org="lab")] == ["birds"]


def test_buckets_persist_across_reopen(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.create_bucket("birds", retention_ns=3600 * 10**9)
    with Store(tmp_path / "s") as store:
        assert store.get_bucket("birds").retention_ns == 3600 * 10**9


def test_duplicate_and_invalid_names_are_refused(store: Store) -> None:
    with pytest.raises(BucketExists, match="already exists"):
        store.create_bucket("b")
    with pytest.raises(StoreError, match="reserved"):
        store.create_bucket("_monitoring")
    with pytest.raises(StoreError, match="non-empty"):
        store.create_bucket("  ")
    with pytest.raises(StoreError, match="retention"):
        store.create_bucket("neg", retention_ns=-1)


def test_unknown_bucket_error_names_it(store: Store) -> None:
    with pytest.raises(BucketNotFound, match="'nope' not found"):
        store.get_bucket("nope")
    with pytest.raises(BucketNotFound):
        store.write("nope", [make_batch("m", [1], fields={"v": [1.0]})])
    with pytest.raises(BucketNotFound):
        store.scan("nope")


def test_update_bucket_renames_and_keeps_data(store: Store) -> None:
    store.write("b", [make_batch("m", [1], fields={"v": [1.0]})])
    updated = store.update_bucket("b", new_name="c", description="d", retention_ns=0)
    assert updated.name == "c" and updated.description == "d"
    with pytest.raises(BucketNotFound):
        store.get_bucket("b")
    assert store.scan("c")[0].num_rows == 1
    store.create_bucket("x")
    with pytest.raises(BucketExists):
        store.update_bucket("x", new_name="c")


def test_delete_bucket_drops_its_tables(store: Store) -> None:
    store.write("b", [make_batch("m", [1], fields={"v": [1.0]})])
    store.delete_bucket("b")
    assert store.list_buckets() == []
    report = store.check()
    assert report.ok, report.problems
    assert report.measurements == 0
    store.create_bucket("b")
    assert store.scan("b") == []
