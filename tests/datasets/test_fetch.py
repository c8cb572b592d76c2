"""`fluxlab datasets fetch`: a real HTTP server on 127.0.0.1, a cache and a checksum."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluxlab.cli.main import app
from fluxlab.datasets.generators import generate


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _CountingHandler.hits.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A generated Hartford file served over HTTP from tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    generate("hartford-incidents", www / "rows.csv", 1_200, seed=2)
    _CountingHandler.hits = []
    handler = functools.partial(_CountingHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www / "rows.csv"
    finally:
        server.shutdown()
        server.server_close()


def _fetch(*args: str) -> object:
    return CliRunner().invoke(app, ["datasets", "fetch", *args])


def test_fetch_downloads_caches_and_checks(served: tuple[str, Path], tmp_path: Path) -> None:
    base, original = served
    cache = tmp_path / "cache"
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    url = f"{base}/rows.csv?accessType=DOWNLOAD"
    first = _fetch("hartford-incidents", "--url", url, "--cache-dir", str(cache))
    assert first.exit_code == 0, first.output
    cached = cache / "hartford-incidents" / "hartford-police-incidents.csv"
    assert "downloaded" in first.stdout and digest in first.stdout
    assert cached.read_bytes() == original.read_bytes()
    assert (cached.parent / (cached.name + ".sha256")).read_text().startswith(digest)
    second = _fetch("hartford-incidents", "--url", url, "--cache-dir", str(cache),
                    "--sha256", digest)
    assert second.exit_code == 0 and "cached copy (checksum verified)" in second.stdout
    assert len(_CountingHandler.hits) == 1  # the second fetch did not download


def test_a_corrupted_cache_is_downloaded_again(served: tuple[str, Path], tmp_path: Path) -> None:
    base, original = served
    cache = tmp_path / "cache"
    args = ["hartford-incidents", "--url", f"{base}/rows.csv", "--cache-dir", str(cache)]
    assert _fetch(*args).exit_code == 0
    cached = cache / "hartford-incidents" / "hartford-police-incidents.csv"
    cached.write_text("tampered")
    again = _fetch(*args)
    assert again.exit_code == 0 and "downloaded" in again.stdout
    assert cached.read_bytes() == original.read_bytes() and len(_CountingHandler.hits) == 2


def test_checksum_mismatch_keeps_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    cache = tmp_path / "cache"
    result = _fetch("hartford-incidents", "--url", f"{base}/rows.csv", "--cache-dir", str(cache),
                    "--sha256", "0" * 64)
    assert result.exit_code == 1 and "checksum mismatch" in result.stderr
    assert not list((cache / "hartford-incidents").glob("*.csv"))


def test_fetched_file_loads(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    cache = tmp_path / "cache"
    assert _fetch("hartford-incidents", "--url", f"{base}/rows.csv", "--cache-dir",
                  str(cache)).exit_code == 0
    cached = cache / "hartford-incidents" / "hartford-police-incidents.csv"
    loaded = CliRunner().invoke(app, ["datasets", "load", "hartford-incidents", str(cached),
                                      "--store", str(tmp_path / "store")])
    assert loaded.exit_code == 0 and "1,201 rows read, 1,200 written" in loaded.stdout


def test_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    result = _fetch("ct-school-covid", "--url", "http://127.0.0.1:9/nothing.csv",
                    "--cache-dir", str(tmp_path))
    assert result.exit_code == 1 and "could not download http://127.0.0.1:9/nothing.csv" in (
        result.stderr
    )
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hartford-incidents", "no download URL is built in"),
        ("socrata-ucr-codes", "give it with --url"),
        ("ct-school-covid", "data.ct.gov"),
        ("movebank", "need a login"),
    ],
)
def test_without_a_verified_url_it_says_where_to_get_it(name: str, expected: str) -> None:
    result = _fetch(name)
    assert result.exit_code == 2 and expected in result.stderr
