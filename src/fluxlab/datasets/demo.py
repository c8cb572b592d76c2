"""The seed datasets for `fluxlab demo`: synthetic files generated once, then loaded.

The demo must run offline in seconds, so the three datasets that cannot ship are
generated (seeded, so a re-run writes identical points and replaces them instead of
doubling counts) into a folder next to the store, where the user can look at them.
The UCR code table is loaded before the incidents so unknown codes are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fluxlab.backends.base import Backend
from fluxlab.datasets.generators import generate
from fluxlab.datasets.load import DatasetLoad, load_dataset

DEMO_SEED = 2021


@dataclass(frozen=True)
class DemoFile:
    dataset: str
    rows: int
    options: tuple[tuple[str, str], ...] = ()

    def filename(self) -> str:
        layout = dict(self.options).get("layout")
        return f"{self.dataset}{'-' + layout if layout else ''}.csv"


DEMO_FILES: tuple[DemoFile, ...] = (
    DemoFile("socrata-ucr-codes", 0),
    DemoFile("hartford-incidents", 20_000),
    DemoFile("ct-school-covid", 6_600, (("layout", "2020-2021"),)),
    DemoFile("ct-school-covid", 6_600, (("layout", "2021-2022"),)),
    DemoFile("movebank", 10_000),
)
"""Load order matters: the UCR codes first (the incidents are checked against them)."""


def demo_files(folder: Path, scale: float = 1.0) -> dict[str, list[Path]]:
    """Generate (or reuse) the synthetic demo files; dataset name -> files."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    for spec in DEMO_FILES:
        path = folder / spec.filename()
        rows = max(1, int(spec.rows * scale)) if spec.rows else 0
        marker = path.with_name(path.name + f".{rows}-{DEMO_SEED}")
        if not (path.is_file() and marker.is_file()):
            generate(spec.dataset, path, rows, DEMO_SEED, **dict(spec.options))
            for old in folder.glob(path.name + ".*-*"):
                old.unlink()
            marker.touch()
        files.setdefault(spec.dataset, []).append(path)
    return files


def load_demo_datasets(
    backend: Backend,
    folder: Path,
    rejects_dir: Path,
    *,
    scale: float = 1.0,
    include_bundled: bool = True,
) -> list[DatasetLoad]:
    """bird-migration (bundled) plus the generated files, each into its own bucket."""
    loads = []
    if include_bundled:
        loads.append(load_dataset(backend, "bird-migration", rejects_dir=rejects_dir,
                                  progress=False))
    for dataset, paths in demo_files(folder, scale).items():
        loads.append(
            load_dataset(backend, dataset, paths, rejects_dir=rejects_dir, progress=False)
        )
    return loads
