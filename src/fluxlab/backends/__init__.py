"""Layer 5 — one backend interface, two implementations: embedded and InfluxDB 2.

    from fluxlab.backends import connect
    with connect(store="/tmp/fluxlab") as backend:      # or url=..., token=..., org=...
        backend.create_bucket("air")
        backend.sql('SELECT count(*) FROM "air"."pm25"')
"""

from fluxlab.backends.base import (
    Backend,
    BackendError,
    BucketInfo,
    NotSupported,
    WriteSummary,
)
from fluxlab.backends.connect import connect, open_backend

__all__ = [
    "Backend",
    "BackendError",
    "BucketInfo",
    "NotSupported",
    "WriteSummary",
    "connect",
    "open_backend",
]
