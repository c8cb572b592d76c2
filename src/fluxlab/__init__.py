"""fluxlab: time-stamped public data from CSV to a time-series store, Flux/SQL, geo and dashboards.

Layers (each imports only the ones above it in this list):
model -> storage -> ingest -> flux -> backends -> server / analysis / viz / datasets -> cli

The Python API is `fluxlab.connect(store=... | url=..., token=..., org=...)` (see
fluxlab.backends.api). It is loaded on first use, so `import fluxlab` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Client", "QueryLimits", "connect"]

_API = {"connect": "fluxlab.backends.api", "Client": "fluxlab.backends.api",
        "QueryLimits": "fluxlab.flux.limits"}


def __getattr__(name: str) -> Any:
    """PEP 562 lazy attributes: the API pulls in DuckDB, Arrow and Polars only when used."""
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fluxlab' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
