"""Connection settings: flags > environment > profile > defaults, and the profiles file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxlab.backends.config import (
    ConfigError,
    ConfigFile,
    Profile,
    config_path,
    default_store_path,
    delete_profile,
    load_config,
    resolve_settings,
    upsert_profile,
)


def saved_config(tmp_path: Path, *profiles: Profile, active: str | None = None) -> ConfigFile:
    config = ConfigFile(path=tmp_path / "cfg" / "config.toml")
    for profile in profiles:
        upsert_profile(config, profile, activate=profile.name == active)
    config.save()
    return load_config(config.path)


def test_defaults_are_embedded_store_in_user_data_dir(tmp_path: Path) -> None:
    settings = resolve_settings(env={}, config=ConfigFile(path=tmp_path / "none.toml"))
    assert not settings.is_remote
    assert settings.store == default_store_path()
    assert str(settings.store).startswith(str(tmp_path / "xdg-data"))
    assert settings.org == "default"
    assert settings.sources == {"org": "default", "store": "default"}


def test_environment_beats_profile_and_flags_beat_environment(tmp_path: Path) -> None:
    config = saved_config(
        tmp_path,
        Profile("cloud", url="https://profile", token="ptoken", org="porg"),
        active="cloud",
    )
    env = {"INFLUX_URL": "https://env", "INFLUX_ORG": "eorg"}
    settings = resolve_settings(org="forg", env=env, config=config)
    assert (settings.url, settings.token, settings.org) == ("https://env", "ptoken", "forg")
    assert settings.sources == {
        "url": "env", "token": "profile cloud", "org": "flag", "store": "default",
    }
    assert settings.profile == "cloud"


def test_store_flag_means_embedded_even_with_influx_url_set(tmp_path: Path) -> None:
    settings = resolve_settings(
        store=tmp_path / "s", env={"INFLUX_URL": "http://x"}, config=ConfigFile(tmp_path / "c")
    )
    assert not settings.is_remote
    assert settings.store == tmp_path / "s"


def test_fluxlab_store_env_and_named_profile(tmp_path: Path) -> None:
    config = saved_config(tmp_path, Profile("a", store="/a"), Profile("b", store="/b"), active="a")
    assert resolve_settings(env={}, config=config).store == Path("/a")
    assert resolve_settings(profile="b", env={}, config=config).store == Path("/b")
    assert resolve_settings(env={"FLUXLAB_STORE": "/e"}, config=config).store == Path("/e")


def test_unknown_profile_error_lists_known_ones(tmp_path: Path) -> None:
    config = saved_config(tmp_path, Profile("local", store="/x"))
    with pytest.raises(ConfigError, match=r"no profile named 'nope'.*known: local"):
        resolve_settings(profile="nope", env={}, config=config)


def test_profiles_round_trip_through_toml_with_awkward_characters(tmp_path: Path) -> None:
    tricky = Profile("my cloud", url="https://h", token='to"k\\en', org="org\nx")
    config = saved_config(tmp_path, tricky, Profile("local", store="/s"), active="my cloud")
    assert config.profiles["my cloud"] == tricky
    assert config.active == "my cloud"
    assert config.profiles["local"].store == "/s"


def test_first_profile_becomes_active_and_deleting_active_clears_it(tmp_path: Path) -> None:
    config = saved_config(tmp_path, Profile("one", store="/1"), Profile("two", store="/2"))
    assert config.active == "one"
    delete_profile(config, "one").save()
    reloaded = load_config(config.path)
    assert reloaded.active is None and list(reloaded.profiles) == ["two"]


def test_broken_config_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("active = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="config.toml: not valid TOML"):
        load_config(path)
    path.write_text("[profiles.x]\nhost = 'h'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown keys \\['host'\\]"):
        load_config(path)


def test_config_path_honours_fluxlab_config(tmp_path: Path) -> None:
    assert config_path({"FLUXLAB_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    assert config_path({}).name == "config.toml"
