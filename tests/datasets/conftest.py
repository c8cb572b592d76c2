"""Dataset test fixtures: the CLI helper on a tmp store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_cli import Cli  # noqa: E402


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)
