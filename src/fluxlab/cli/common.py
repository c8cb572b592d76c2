"""What every command shares: connection options, opening the backend, and error reporting.

Commands stay thin: `@connected` gives them the connection options as one `Connection`;
they call `conn.open()` and the layers, and print. Any exception becomes one line on
stderr and exit code 1 (`FLUXLAB_DEBUG=1` shows the traceback when debugging fluxlab itself).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from fluxlab.backends.base import Backend
from fluxlab.backends.config import Settings, resolve_settings
from fluxlab.backends.connect import open_backend
from fluxlab.cli.output import error

P = ParamSpec("P")
R = TypeVar("R")

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Embedded store directory (beats FLUXLAB_STORE, INFLUX_URL and profiles).",
        show_default=False,
    ),
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="InfluxDB 2 URL (beats INFLUX_URL).", show_default=False)
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", help="InfluxDB 2 API token (beats INFLUX_TOKEN).", show_default=False),
]
OrgOpt = Annotated[
    str | None,
    typer.Option("--org", help="Organisation (beats INFLUX_ORG; default 'default').",
                 show_default=False),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="Config profile to use instead of the active one.",
                 show_default=False),
]
BucketOpt = Annotated[str, typer.Option("--bucket", "-b", help="Bucket name.")]


@dataclass(frozen=True)
class Connection:
    """Where a command's data lives, as given by --store/--url/--token/--org/--profile."""

    store: Path | None = None
    url: str | None = None
    token: str | None = None
    org: str | None = None
    profile: str | None = None

    def settings(self) -> Settings:
        return resolve_settings(
            url=self.url, token=self.token, org=self.org, store=self.store, profile=self.profile
        )

    def open(self, *, read_only: bool = False) -> Backend:
        """The backend chosen by flags > environment > profile (see backends.config).

        Read-only commands do not create a store: they say how to get one instead.
        """
        settings = self.settings()
        if read_only and not settings.is_remote:
            require_store(settings.store)
        return open_backend(settings, read_only=read_only)


_CONNECTION_OPTIONS: dict[str, object] = {
    "org": OrgOpt,
    "store": StoreOpt,
    "url": UrlOpt,
    "token": TokenOpt,
    "profile": ProfileOpt,
}


def connected(func: Callable[..., R]) -> Callable[..., R]:
    """Give a command the five connection options, passed to it as one `conn: Connection`.

    Typer reads a command's options from its signature, so the wrapper advertises the
    command's own parameters (minus `conn`) followed by the shared options; every command
    then spells, documents and resolves them the same way.
    """
    signature = inspect.signature(func, eval_str=True)
    if "conn" not in signature.parameters:
        raise TypeError(f"{func.__name__} must take a `conn: Connection` parameter")
    own = [p for name, p in signature.parameters.items() if name != "conn"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
        for name, option in _CONNECTION_OPTIONS.items()
    ]

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> R:
        options = {name: kwargs.pop(name, None) for name in _CONNECTION_OPTIONS}
        return func(*args, conn=Connection(**options), **kwargs)  # type: ignore[arg-type]

    wrapper.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
    return wrapper


def require_store(path: Path) -> None:
    if not path.exists():
        raise ValueError(
            f"no store at {path} yet: write data, run `fluxlab demo`, or pass --store PATH"
        )


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn any failure inside a command into one clear stderr line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            error("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("FLUXLAB_DEBUG"):
                raise
            error(describe(exc))
            raise typer.Exit(1) from None

    return wrapper


def describe(exc: BaseException) -> str:
    """A one-line message for an exception, readable without the traceback."""
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}; check the path"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError):
        text = f"not found: {text}"
    return text
