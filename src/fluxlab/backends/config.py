"""Connection settings: which backend a command talks to, and how.

Precedence is the one users of the `influx` CLI expect: command-line flags, then
environment (`INFLUX_URL`, `INFLUX_TOKEN`, `INFLUX_ORG`, `FLUXLAB_STORE`), then the
named profile (`--profile`, else the active one) of a TOML config file. The file
lives in the platform's user config dir; `FLUXLAB_CONFIG` points elsewhere (tests,
CI, several setups side by side).

    active = "local"
    [profiles.local]
    store = "/data/fluxlab"
    [profiles.cloud]
    url = "https://eu-central-1-1.aws.cloud2.influxdata.com"
    token = "..."
    org = "me"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs

APP_NAME = "fluxlab"
DEFAULT_ORG = "default"

ENV_URL = "INFLUX_URL"
ENV_TOKEN = "INFLUX_TOKEN"
ENV_ORG = "INFLUX_ORG"
ENV_STORE = "FLUXLAB_STORE"
ENV_CONFIG = "FLUXLAB_CONFIG"


class ConfigError(ValueError):
    """A config file or profile problem the user can fix (message says how)."""


@dataclass(frozen=True)
class Profile:
    """One named set of connection settings; unset values are None."""

    name: str
    url: str | None = None
    token: str | None = None
    org: str | None = None
    store: str | None = None

    def values(self) -> dict[str, str]:
        """The settings that are set, without the name (what the TOML table holds)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) is not None
        }


@dataclass
class ConfigFile:
    """The profiles file: profiles by name plus the name of the active one."""

    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    active: str | None = None

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"no profile named {name!r} in {self.path} (known: {known}); "
                f"create it with `fluxlab config create {name} ...`"
            ) from None

    def active_profile(self) -> Profile | None:
        return self.profiles.get(self.active) if self.active else None

    def save(self) -> None:
        """Write the file atomically (write a sibling, then rename) so a crash keeps the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(_dump_toml(self), encoding="utf-8")
        tmp.replace(self.path)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the profiles file lives: `$FLUXLAB_CONFIG`, else the user config dir."""
    env = os.environ if env is None else env
    override = env.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_store_path() -> Path:
    """The embedded store used when nothing else is configured."""
    return platformdirs.user_data_path(APP_NAME) / "store"


def load_config(path: Path | None = None) -> ConfigFile:
    """Read the profiles file; a missing file is an empty config, a broken one an error."""
    path = config_path() if path is None else path
    if not path.exists():
        return ConfigFile(path=path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete the file") from None
    profiles: dict[str, Profile] = {}
    for name, table in (raw.get("profiles") or {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [profiles.{name}] must be a table")
        unknown = set(table) - {"url", "token", "org", "store"}
        if unknown:
            raise ConfigError(
                f"{path}: profile {name!r} has unknown keys {sorted(unknown)}; "
                "allowed: url, token, org, store"
            )
        profiles[name] = Profile(name=name, **{k: str(v) for k, v in table.items()})
    active = raw.get("active")
    return ConfigFile(path=path, profiles=profiles, active=str(active) if active else None)


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings and where each came from (shown by `config show`)."""

    url: str | None
    token: str | None
    org: str
    store: Path
    profile: str | None
    sources: dict[str, str]

    @property
    def is_remote(self) -> bool:
        """True when commands go to an InfluxDB 2 server rather than the embedded store."""
        return self.url is not None


def resolve_settings(
    *,
    url: str | None = None,
    token: str | None = None,
    org: str | None = None,
    store: Path | str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    config: ConfigFile | None = None,
) -> Settings:
    """Apply flags > environment > profile > defaults.

    An explicit `store` flag (without a `url` flag) means "use this embedded store",
    even when `INFLUX_URL` is set: the flag is the most specific thing the user said.
    """
    env = os.environ if env is None else env
    config = load_config(config_path(env)) if config is None else config
    chosen = config.get(profile) if profile else config.active_profile()
    layers: list[tuple[str, Mapping[str, str | None]]] = [
        ("flag", {"url": url, "token": token, "org": org, "store": _str(store)}),
        ("env", {"url": env.get(ENV_URL), "token": env.get(ENV_TOKEN),
                 "org": env.get(ENV_ORG), "store": env.get(ENV_STORE)}),
    ]
    if chosen is not None:
        layers.append((f"profile {chosen.name}", chosen.values()))
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key in ("url", "token", "org", "store"):
        for source, layer in layers:
            value = layer.get(key)
            if value:
                values[key], sources[key] = value, source
                break
    if store is not None and url is None:
        values.pop("url", None)
        sources.pop("url", None)
    if "org" not in values:
        values["org"], sources["org"] = DEFAULT_ORG, "default"
    if "store" not in values:
        values["store"], sources["store"] = str(default_store_path()), "default"
    return Settings(
        url=values.get("url"),
        token=values.get("token"),
        org=str(values["org"]),
        store=Path(str(values["store"])).expanduser(),
        profile=chosen.name if chosen else None,
        sources=sources,
    )


def upsert_profile(config: ConfigFile, profile: Profile, *, activate: bool) -> ConfigFile:
    """Add or replace a profile; the first profile ever created becomes active."""
    config.profiles[profile.name] = profile
    if activate or config.active is None:
        config.active = profile.name
    return config


def delete_profile(config: ConfigFile, name: str) -> ConfigFile:
    config.get(name)
    del config.profiles[name]
    if config.active == name:
        config.active = None
    return config


def masked(token: str | None) -> str:
    """A token as shown on screen: enough to recognise it, not enough to use it."""
    if not token:
        return ""
    return token[:4] + "…" if len(token) > 8 else "****"


def _str(value: Path | str | None) -> str | None:
    return None if value is None else str(value)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key) and key.isascii()
    return key if bare else _toml_string(key)


def _dump_toml(config: ConfigFile) -> str:
    """Serialise the profiles file (only strings are stored, so a tiny writer is enough)."""
    lines = ["# fluxlab connection profiles; edit with `fluxlab config ...`"]
    if config.active:
        lines.append(f"active = {_toml_string(config.active)}")
    for name in sorted(config.profiles):
        lines += ["", f"[profiles.{_toml_key(name)}]"]
        for key, value in config.profiles[name].values().items():
            lines.append(f"{key} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"


__all__ = [
    "ConfigError", "ConfigFile", "Profile", "Settings", "config_path", "default_store_path",
    "delete_profile", "load_config", "masked", "resolve_settings", "upsert_profile",
]
