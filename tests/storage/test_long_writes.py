"""Long writes checkpoint as they go; readers can spill big sorts and joins."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from fluxlab.model.points import PointBatch
from fluxlab.storage import Store
from fluxlab.storage import store as store_module


def batch(start: int, n: int) -> PointBatch:
    table = pa.table({
        "time": pa.array(range(start, start + n), pa.int64()),
        "host": pa.array(["a"] * n),
        "v": pa.array([float(i) for i in range(n)]),
    })
    return PointBatch("cpu", table, ("host",), ("v",))


def test_a_long_write_checkpoints_every_so_many_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_ROWS", 25)
    checkpoints: list[int] = []
    with Store(tmp_path / "s", chunk_rows=10) as store:
        store.create_bucket("b")
        real = store._checkpoint_every  # noqa: SLF001

        def spy(rows: int) -> None:
            real(rows)
            if store._rows_since_checkpoint == 0:  # noqa: SLF001
                checkpoints.append(rows)

        monkeypatch.setattr(store, "_checkpoint_every", spy)
        result = store.write("b", [batch(i * 10, 10) for i in range(8)])
        assert result.points_written == 80
        assert len(checkpoints) == 2  # after 30 and 60 rows
        assert store.check().ok
    with Store(tmp_path / "s", read_only=True) as store:
        assert store.sql('SELECT count(*) AS n FROM "b"."cpu"').column(0)[0].as_py() == 80


def test_a_reader_spills_outside_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.create_bucket("b")
    with Store(tmp_path / "s", read_only=True) as store:
        setting = store._con.execute(  # noqa: SLF001
            "SELECT current_setting('temp_directory')"
        ).fetchall()[0][0]
    assert setting.endswith(f"fluxlab-{os.getpid()}")
    assert not setting.startswith(str(tmp_path))
