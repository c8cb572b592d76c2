"""Native implementations of Flux packages; importing this registers them all.

Each module registers the members of one Flux package (or one family of universe
functions) through `fluxlab.flux.registry`. Add a module here and import it below.
"""

import importlib
import pkgutil


def load_all() -> None:
    """Import every module of this package (idempotent)."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
