"""`fluxlab config create|list|use|delete|show` — named connection profiles, like `influx config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fluxlab.backends.config import (
    Profile,
    delete_profile,
    load_config,
    masked,
    resolve_settings,
    upsert_profile,
)
from fluxlab.cli.common import ProfileOpt, reports_errors
from fluxlab.cli.output import console, key_value_table, plain_row

app = typer.Typer(
    help="Manage connection profiles (file: $FLUXLAB_CONFIG or the user config dir).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Profile name.")]


@app.command("create")
@reports_errors
def create(
    name: NameArg,
    url: Annotated[str | None, typer.Option("--url", help="InfluxDB 2 URL.", show_default=False)] = None,
    token: Annotated[str | None, typer.Option("--token", help="API token.", show_default=False)] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organisation.", show_default=False)] = None,
    store: Annotated[
        Path | None, typer.Option("--store", help="Embedded store directory.", show_default=False)
    ] = None,
    active: Annotated[bool, typer.Option("--active", "-a", help="Make it the active profile.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing profile.")] = False,
) -> None:
    """Create a profile: --url/--token/--org for InfluxDB 2, or --store for an embedded store."""
    if url is None and store is None:
        raise typer.BadParameter("give --url (InfluxDB 2) or --store (embedded store)")
    config = load_config()
    if name in config.profiles and not overwrite:
        raise ValueError(f"profile {name!r} exists; add --overwrite to replace it")
    profile = Profile(
        name=name,
        url=url,
        token=token,
        org=org,
        store=str(store.expanduser().resolve()) if store else None,
    )
    upsert_profile(config, profile, activate=active).save()
    state = " (active)" if config.active == name else ""
    console.print(f"Created profile {name}{state} in {config.path}", markup=False)


@app.command("list")
@reports_errors
def list_() -> None:
    """List profiles; * marks the active one."""
    config = load_config()
    if not config.profiles:
        console.print(
            f"No profiles in {config.path}. Create one: fluxlab config create NAME --url URL "
            "--token T --org O", markup=False,
        )
        return
    view = Table(title=f"Profiles in {config.path}", header_style="bold")
    for column in ("active", "name", "url", "org", "token", "store"):
        view.add_column(column)
    for name in sorted(config.profiles):
        p = config.profiles[name]
        active = "*" if name == config.active else ""
        view.add_row(*plain_row(active, name, p.url, p.org, masked(p.token), p.store))
    console.print(view)


@app.command("use")
@reports_errors
def use(name: NameArg) -> None:
    """Make a profile the active one."""
    config = load_config()
    config.get(name)
    config.active = name
    config.save()
    console.print(f"Active profile: {name}", markup=False)


@app.command("delete")
@reports_errors
def delete(name: NameArg) -> None:
    """Delete a profile."""
    config = load_config()
    delete_profile(config, name).save()
    console.print(f"Deleted profile {name}", markup=False)


@app.command("show")
@reports_errors
def show(profile: ProfileOpt = None) -> None:
    """Show the settings commands will use, and where each one comes from."""
    settings = resolve_settings(profile=profile)
    src = settings.sources
    target = f"InfluxDB 2 at {settings.url}" if settings.is_remote else "embedded store"
    rows = [
        ("backend", target),
        ("profile", settings.profile or "(none)"),
        ("url", f"{settings.url or ''}  [{src.get('url', 'unset')}]"),
        ("org", f"{settings.org}  [{src['org']}]"),
        ("token", f"{masked(settings.token)}  [{src.get('token', 'unset')}]"),
        ("store", f"{settings.store}  [{src['store']}]"),
        ("config file", str(load_config().path)),
    ]
    console.print(key_value_table(rows, title="Connection settings"))
