"""Shared fixture: a real embedded store with bucket "b" in tmp_path."""

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
