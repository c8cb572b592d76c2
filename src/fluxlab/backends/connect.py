"""Pick and open the backend a command should use, from flags, environment and profiles."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fluxlab.backends.base import Backend
from fluxlab.backends.config import Settings, resolve_settings


def connect(
    *,
    url: str | None = None,
    token: str | None = None,
    org: str | None = None,
    store: Path | str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    read_only: bool = False,
) -> Backend:
    """Open InfluxDB 2 when a URL is configured (flag, INFLUX_URL or profile), else the store.

    The same call serves the CLI, the server and notebooks, so "where does my data
    go" has one answer everywhere.
    """
    settings = resolve_settings(
        url=url, token=token, org=org, store=store, profile=profile, env=env
    )
    return open_backend(settings, read_only=read_only)


def open_backend(settings: Settings, *, read_only: bool = False) -> Backend:
    """Open the backend described by already-resolved settings."""
    if settings.is_remote:
        from fluxlab.backends.influxdb2 import InfluxDB2Backend

        assert settings.url is not None
        return InfluxDB2Backend(settings.url, token=settings.token, org=settings.org)
    from fluxlab.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.store, org=settings.org, read_only=read_only)
