"""Fixtures for storage tests: a real store in tmp_path with one bucket "b"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxlab.storage import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store") as s:
        s.create_bucket("b")
        yield s
