"""Configuration: load order, secrets refused from TOML, clear errors, `init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from tests.conftest import Project


def test_example_config_loads_with_every_section(project: Project) -> None:
    s = load_settings(project.config)
    assert s.schedule.timezone == "Europe/London"
    assert set(s.formats) >= {"story", "portrait", "square", "landscape"}
    assert s.formats["story"].safe_top == 250 and s.formats["story"].safe_bottom == 340
    assert {"dark", "light"} <= set(s.themes)
    assert s.enabled_targets() == ["outbox", "outbox_story"]
    assert s.data_path == project.root / "var"


def test_nested_key_environment_beats_dotenv_beats_toml_beats_default(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.write_config(project.config.read_text().replace('timezone = "Europe/London"', ""))
    assert load_settings(project.config).schedule.timezone == "UTC"  # the default
    project.write_config(
        project.config.read_text().replace("[schedule]", '[schedule]\ntimezone = "Europe/London"')
    )
    s = load_settings(project.config)
    assert s.schedule.timezone == "Europe/London"
    slots = s.schedule.slots
    (project.root / ".env").write_text("QUOTECAST_SCHEDULE__TIMEZONE=Asia/Tokyo\n")
    s = load_settings(project.config)
    assert s.schedule.timezone == "Asia/Tokyo"
    assert s.schedule.slots == slots  # a nested override keeps the file's sibling keys
    monkeypatch.setenv("QUOTECAST_SCHEDULE__TIMEZONE", "America/New_York")
    s = load_settings(project.config)
    assert s.schedule.timezone == "America/New_York"
    assert s.schedule.slots == slots


def test_secret_environment_beats_dotenv(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.root)
    (project.root / ".env").write_text(
        "QUOTECAST_X_ACCESS_TOKEN=from-dotenv\nQUOTECAST_LEDGER_URL=sqlite:///from-dotenv.db\n"
    )
    s = load_settings(project.config)
    assert s.target_secrets("x", ("access_token",))["access_token"].get_secret_value() == (
        "from-dotenv"
    )
    assert s.ledger_address == "sqlite:///from-dotenv.db"
    monkeypatch.setenv("QUOTECAST_X_ACCESS_TOKEN", "from-env")
    monkeypatch.setenv("QUOTECAST_LEDGER_URL", "sqlite:///from-env.db")
    s = load_settings(project.config)
    assert s.target_secrets("x", ("access_token",))["access_token"].get_secret_value() == (
        "from-env"
    )
    assert s.ledger_address == "sqlite:///from-env.db"


def test_secrets_come_from_env_and_dotenv_only(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("QUOTECAST_X_ACCESS_TOKEN", "from-env")
    s = load_settings(project.config)
    got = s.target_secrets("x", ("access_token", "api_key"))
    assert got["access_token"].get_secret_value() == "from-env"
    assert "api_key" not in got
    assert "from-env" not in repr(got)  # SecretStr hides the value


def test_secret_in_toml_is_refused_naming_the_variable(project: Project) -> None:
    text = project.config.read_text()
    text = text.replace(
        'handle = "example.bsky.social"',
        'handle = "example.bsky.social"\napp_password = "hunter2-abcd"',
    )
    project.write_config(text)
    with pytest.raises(ConfigError) as err:
        load_settings(project.config)
    msg = str(err.value)
    assert "QUOTECAST_BLUESKY_APP_PASSWORD" in msg
    assert "targets.bluesky.options.app_password" in msg
    assert "hunter2" not in msg
    line = text.splitlines().index('app_password = "hunter2-abcd"') + 1
    assert f"config.toml:{line}:" in msg


def test_unknown_setting_names_file_line_and_field(bare_project: Project) -> None:
    bare_project.write_config('data_dir = "var"\ntimezon = "UTC"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bare_project.config)
    assert "config.toml:2: timezon: unknown setting" in str(err.value)


def test_bad_values_are_explained(bare_project: Project) -> None:
    bare_project.write_config('[schedule]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="unknown IANA timezone 'Mars/Olympus'"):
        load_settings(bare_project.config)
    bare_project.write_config('[targets.t]\nnetwork = "myspace"\n')
    with pytest.raises(ConfigError, match="targets.t.network: unknown network 'myspace'"):
        load_settings(bare_project.config)


def test_missing_config_path_is_one_clear_message(tmp_path: Path, bare_project: Project) -> None:
    r = bare_project.run("--config", str(tmp_path / "nope.toml"), "check")
    assert r.returncode == 2
    assert "nope.toml: config file not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_broken_toml_config_is_reported_not_crashed(bare_project: Project) -> None:
    bare_project.write_config("[brand\nname = 1\n")
    r = bare_project.run("check")
    assert r.returncode == 2
    assert "invalid TOML" in r.stderr and "Traceback" not in r.stderr


def test_init_writes_config_and_queue_and_never_overwrites(tmp_path: Path) -> None:
    p = Project(tmp_path)
    r = p.cli("init")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "queue").is_dir()
    original = (tmp_path / "config.toml").read_text()
    assert "[targets.outbox]" in original
    (tmp_path / "config.toml").write_text(original + "\n# mine\n")
    r = p.cli("init")
    assert "already exists; left unchanged" in r.output
    assert (tmp_path / "config.toml").read_text().endswith("# mine\n")


def test_ledger_url_with_a_password_must_come_from_the_environment(bare_project: Project) -> None:
    bare_project.write_config('ledger_url = "postgresql://qc:s3cret-pw@db.example/quotecast"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bare_project.config)
    assert "QUOTECAST_LEDGER_URL" in str(err.value) and "s3cret-pw" not in str(err.value)


def test_ledger_url_chooses_the_ledger(bare_project: Project, tmp_path: Path) -> None:
    shared = tmp_path / "shared.sqlite3"
    bare_project.write_config(
        f'ledger_url = "sqlite:///{shared}"\n' + bare_project.config.read_text()
    )
    bare_project.add_item("a.toml", 'quote = "Q"\nauthor = "A"\n')
    r = bare_project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    assert shared.is_file()
    assert not (bare_project.var / "ledger.sqlite3").exists()
    assert "1 posted" in bare_project.run("status").stdout
