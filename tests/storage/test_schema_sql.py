"""Schema helpers and user SQL (including the sandbox)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from storage_helpers import make_batch

from fluxlab.model.points import FieldType
from fluxlab.storage import Store, UserSqlError


@pytest.fixture
def filled(store: Store) -> Store:
    store.write("b", make_batch("cpu", [10, 20], tags={"host": ["a", "b"], "dc": ["x", None]},
                                fields={"usage": [1.0, 2.0], "n": pa.array([1, 2])}))
    store.write("b", make_batch("mem", [30], tags={"host": ["c"]}, fields={"free": [True]}))
    return store


def test_measurements_respect_time_range(filled: Store) -> None:
    assert filled.measurements("b") == ["cpu", "mem"]
    assert filled.measurements("b", start_ns=25) == ["mem"]
    assert filled.measurements("b", stop_ns=15) == ["cpu"]


def test_field_and_tag_keys(filled: Store) -> None:
    assert filled.field_keys("b") == {"free": FieldType.BOOLEAN, "n": FieldType.INTEGER,
                                      "usage": FieldType.FLOAT}
    assert filled.field_keys("b", "mem") == {"free": FieldType.BOOLEAN}
    assert filled.tag_keys("b") == ["dc", "host"]
    assert filled.tag_keys("b", measurement="mem") == ["host"]


def test_tag_values(filled: Store) -> None:
    assert filled.tag_values("b", "host") == ["a", "b", "c"]
    assert filled.tag_values("b", "host", measurement="cpu") == ["a", "b"]
    assert filled.tag_values("b", "dc") == ["x"]
    assert filled.tag_values("b", "nope") == []


def test_sql_addresses_bucket_and_measurement(filled: Store) -> None:
    table = filled.sql('SELECT host, usage FROM "b"."cpu" ORDER BY host')
    assert table.to_pylist() == [{"host": "a", "usage": 1.0}, {"host": "b", "usage": 2.0}]
    joined = filled.sql('SELECT count(*) AS n FROM b.cpu c JOIN b.mem m ON c.host <> m.host')
    assert joined.column("n").to_pylist() == [2]


def test_sql_sees_new_buckets_and_renames(filled: Store) -> None:
    filled.create_bucket("other")
    filled.write("other", make_batch("m", [1], fields={"v": [1.0]}))
    assert filled.sql('SELECT v FROM "other"."m"').column("v").to_pylist() == [1.0]
    filled.update_bucket("other", new_name="renamed")
    assert filled.sql('SELECT v FROM "renamed"."m"').num_rows == 1
    with pytest.raises(UserSqlError):
        filled.sql('SELECT v FROM "other"."m"')


def test_sql_cannot_read_files(filled: Store) -> None:
    with pytest.raises(UserSqlError, match="disabled by configuration"):
        filled.sql("SELECT * FROM read_csv('/etc/passwd')")


def test_sql_cannot_change_settings_or_data(filled: Store) -> None:
    for statement in ("SET enable_external_access = true", 'DELETE FROM "b"."cpu"',
                      "DROP TABLE m_1", "ATTACH '/tmp/x.db' AS x", "COPY m_1 TO '/tmp/x.csv'"):
        with pytest.raises(UserSqlError, match="only SELECT"):
            filled.sql(statement)
    assert filled.sql('SELECT count(*) AS n FROM "b"."cpu"').column("n").to_pylist() == [2]


def test_sql_external_access_can_be_allowed_by_operator(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    with Store(tmp_path / "s", allow_external=True) as store:
        assert store.sql(f"SELECT a FROM read_csv('{csv}')").column("a").to_pylist() == [1]


def test_sql_syntax_error_is_reported(filled: Store) -> None:
    with pytest.raises(UserSqlError, match="parse"):
        filled.sql("SELEC 1")
