"""Download a dataset's public file once: a cache, a SHA-256 checksum, and honest sources.

Only URLs that were checked are built into the recipes; for the others the user
passes `--url` (the recipe says where to find it), and Movebank/Kaggle files, which
need a login, are downloaded by hand (the recipe says how). A download goes to a
`.part` file and is renamed only when complete, so an interrupted fetch never leaves
a truncated file that looks cached. The checksum is stored next to the file and
checked again whenever the cached copy is reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fluxlab.datasets.recipe import Recipe, RecipeError

CHUNK = 1 << 20


class FetchError(RuntimeError):
    """The file could not be fetched or did not match its checksum."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    url: str
    from_cache: bool
    size: int


def default_cache_dir() -> Path:
    """FLUXLAB_CACHE, else the user's cache directory (platformdirs)."""
    env = os.environ.get("FLUXLAB_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("fluxlab")) / "datasets"


def fetch(
    recipe: Recipe,
    *,
    url: str | None = None,
    cache_dir: Path | None = None,
    sha256: str | None = None,
    force: bool = False,
    timeout_s: float = 60.0,
) -> Fetched:
    """The recipe's file in the cache, downloaded when missing (or when `force`)."""
    source_url = url or recipe.source.url
    if not source_url:
        raise RecipeError(missing_url_message(recipe))
    folder = (cache_dir or default_cache_dir()) / recipe.name
    name = recipe.source.filename or Path(source_url.split("?")[0]).name or f"{recipe.name}.csv"
    target = folder / name
    sidecar = target.with_name(target.name + ".sha256")
    if target.is_file() and sidecar.is_file() and not force:
        digest = file_sha256(target)
        recorded = sidecar.read_text().split()[0]
        if digest == recorded and (sha256 is None or digest == sha256.lower()):
            return Fetched(target, digest, source_url, True, target.stat().st_size)
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = _download(source_url, target, timeout_s)
    if sha256 is not None and digest != sha256.lower():
        target.unlink(missing_ok=True)
        raise FetchError(
            f"checksum mismatch for {source_url}: expected sha256 {sha256.lower()}, got {digest}; "
            "the file changed upstream or the download was altered. Nothing was kept."
        )
    sidecar.write_text(f"{digest}  {target.name}\n")
    return Fetched(target, digest, source_url, False, size)


def _download(url: str, target: Path, timeout_s: float) -> tuple[str, int]:
    part = target.with_name(target.name + ".part")
    hasher = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, part.open("wb") as out:
            while chunk := response.read(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise FetchError(f"could not download {url}: {exc}; check the URL and the network") from exc
    shutil.move(part, target)
    return hasher.hexdigest(), size


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def missing_url_message(recipe: Recipe) -> str:
    """Why there is no built-in URL and what to do instead."""
    if recipe.source.manual:
        return f"{recipe.name}: fluxlab cannot download this file. {recipe.source.manual}"
    return (
        f"{recipe.name}: no download URL is built in (it could not be verified), so give it "
        f"with --url. {recipe.source.where}"
    )
