"""The Flux conformance vectors: the pass count must not drop below the recorded floor."""

from __future__ import annotations

from pathlib import Path

from fluxlab.flux.conformance import coverage, run_directory

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "flux-conformance" / "vectors"
LOCAL = Path(__file__).parent / "vectors"
FLOOR_FILE = Path(__file__).parent / "conformance_floor.txt"


def vectors_dir() -> Path:
    return SHARED if SHARED.is_dir() else LOCAL


def test_conformance_pass_count_meets_floor() -> None:
    """About 10 s: part of every `make test` run, as the floor is the engine's contract."""
    outcomes = run_directory(vectors_dir(), timeout_s=10.0)
    passed = sum(o.passed for o in outcomes)
    floor = int(FLOOR_FILE.read_text().split()[0])
    failures = "\n".join(f"{o.file}: {o.error}" for o in outcomes if not o.passed)
    assert passed >= floor, f"{passed} passed, floor is {floor}; failures:\n{failures}"


def test_runner_reports_each_vector_and_coverage(tmp_path: Path) -> None:
    source = vectors_dir() / "universe_count__count.json"
    (tmp_path / "a.json").write_text(source.read_text())
    (tmp_path / "b.json").write_text(
        '{"id": "broken", "preamble": "", "setup": "", "got": "nope()", '
        '"want": "nope()", "functions": ["count"]}'
    )
    outcomes = run_directory(tmp_path)
    assert [o.passed for o in outcomes] == [True, False]
    assert "unsupported function nope" in (outcomes[1].error or "")
    assert coverage(outcomes)["count"] == (1, 2)
