"""The layer rule, enforced: a module imports only from its own layer or the layers below.

Parsed with `ast` (nothing is imported or executed), so a forbidden import inside a
function body is caught too; lazy imports are still imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "fluxlab"

RANKS: dict[str, int] = {
    "model": 1,
    "storage": 2,
    "ingest": 3,
    "flux": 4,
    "backends": 5,
    "server": 6,
    "analysis": 6,
    "viz": 6,
    "datasets": 6,
    "cli": 8,
}
"""Lower rank = lower layer. server/analysis/viz/datasets share a rank: peers may not
import each other (that would hide a dependency the layer list does not show)."""

PEER_RANK = 6
HEAVY = {"duckdb", "pyarrow", "polars", "numpy", "pandas", "influxdb_client", "typer", "rich"}


def module_files() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool) -> list[tuple[str, int]]:
    """Absolute names of everything `source` imports (relative imports resolved), with lines."""
    tree = ast.parse(source)
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            # `from fluxlab import storage` imports the sub-package `fluxlab.storage`.
            if name == "fluxlab":
                found += [(f"fluxlab.{alias.name}", node.lineno) for alias in node.names]
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fluxlab" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANKS else None


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every import in `source` (module `module`) that breaks the layer rule."""
    own = layer_of(module)
    problems = []
    for name, line in imported_modules(source, module, is_package=is_package):
        target = layer_of(name)
        if own is None:
            if module == "fluxlab" and (target or name.split(".")[0] in HEAVY):
                problems.append(f"fluxlab/__init__.py:{line} imports {name}")
            continue
        if target is None or target == own:
            continue
        if RANKS[target] > RANKS[own] or (RANKS[target] == RANKS[own] == PEER_RANK):
            problems.append(f"{module}:{line} ({own}) imports {name} ({target}), a higher layer")
    return problems


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    name = module_name(path)
    assert violations(source, name, is_package=path.name == "__init__.py") == []


def test_every_layer_package_exists() -> None:
    for layer in RANKS:
        assert (PACKAGE_ROOT / layer / "__init__.py").is_file(), layer


def test_checker_catches_upward_imports_even_lazy_and_relative() -> None:
    """The checker must fail on a bad module, or the tests above prove nothing."""
    source = "def f():\n    from fluxlab.storage import Store\n    from ..cli import main\n"
    found = violations(source, "fluxlab.model.probe")
    assert len(found) == 2
    assert "fluxlab.storage" in found[0] and "fluxlab.cli" in found[1]


def test_checker_catches_peer_imports_but_allows_lower_ones() -> None:
    source = "from fluxlab import analysis\nfrom fluxlab.backends import connect\n"
    found = violations(source, "fluxlab.viz.probe")
    assert len(found) == 1 and "fluxlab.analysis" in found[0]


def test_checker_flags_heavy_imports_in_top_level_package() -> None:
    assert violations("import duckdb\n", "fluxlab", is_package=True)
    assert violations("from fluxlab.cli import main\n", "fluxlab", is_package=True)
    assert violations('__version__ = "1"\n', "fluxlab", is_package=True) == []
