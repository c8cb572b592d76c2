"""Shared by the benchmarks: bench/RESULTS.md keeps one `## name` section per benchmark."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# Benchmark results\n\nEach section is rewritten by its own script; see bench/*.py.\n\n"


def record_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section `## name` with `body`; keep the other sections."""
    text = f"## {name}\n\n{body.strip()}\n\n"
    old = path.read_text() if path.exists() else TITLE
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def warm_lazy_imports() -> None:
    """pyarrow imports pandas (when installed, as in the dev environment) on its first
    `pa.array` call: ~0.5 s of import inside a timed run otherwise. Benchmarks call this
    before their clock starts, like every other import (DuckDB's reference too)."""
    import pyarrow as pa

    pa.array([0])
