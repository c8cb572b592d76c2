"""Native implementations of Flux packages; importing this registers them all.

Each module registers the members of one Flux package (or one family of universe
functions) through `fluxlab.flux.registry`. Add a module here and import it below.
"""

import importlib
import pkgutil

_loaded = False


def load_all() -> None:
    """Import every module of this package (idempotent; the directory is listed once,
    since every query run calls this and listing it costs a millisecond)."""
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
