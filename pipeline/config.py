"""Settings: defaults < config.toml < .env < real environment variables (QUOTECAST_…).

The order every pydantic-settings (and twelve-factor) tool uses: what is set in the
process environment for this one run beats the project's .env, which beats the file.

Secrets are never read from config.toml: a secret-looking key there is an
error that names the environment variable to use instead. Relative paths in
the config file are resolved against the file's own folder, so the daemon and
a person at a shell see the same data folder.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pipeline.errors import ConfigError
from pipeline.resources import EXAMPLE_CONFIG, FONTS_DIR

__all__ = ["EXAMPLE_CONFIG", "FONTS_DIR"]  # re-exported: render and bio read fonts from here

# the one rule for a secret-looking setting name, applied to its words: "accessToken",
# "X-Api-Key", "api_key" and "APIKEY" are all secret names
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|passphrase|secret|token|api_?key|private_?key|bearer"
    r"|authorization|credentials?)($|_)"
)
# "Bearer <token>" is a credential whatever its key is called
_BEARER_VALUE = re.compile(r"^\s*bearer\s+[A-Za-z0-9._~+/=-]{8,}\s*$", re.I)


def key_words(name: str) -> str:
    """A setting name as lower-case words joined by '_': 'accessToken' → 'access_token'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def is_secret_key(name: str) -> bool:
    """Whether a config key names a credential (refused in config.toml)."""
    return _SECRET_KEY.search(key_words(name)) is not None


_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardFormat(_Model):
    """A card size. Safe zones are bands kept free of text and logo (stories)."""

    width: int = Field(gt=99, le=4096)
    height: int = Field(gt=99, le=4096)
    safe_top: int = Field(default=0, ge=0)
    safe_bottom: int = Field(default=0, ge=0)
    encoding: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = Field(default=92, ge=30, le=100)


DEFAULT_FORMATS: dict[str, CardFormat] = {
    "story": CardFormat(width=1080, height=1920, safe_top=250, safe_bottom=340, encoding="jpeg"),
    "portrait": CardFormat(width=1080, height=1350),
    "square": CardFormat(width=1080, height=1080),
    "landscape": CardFormat(width=1600, height=900),
}


def _check_colour(value: str) -> str:
    if not _HEX.match(value):
        raise ValueError(f"{value!r} is not a colour; use #rgb or #rrggbb")
    return value


class Background(_Model):
    """Solid colour, two-colour gradient, or an image under a darkening scrim."""

    kind: Literal["solid", "gradient", "image"] = "solid"
    colors: list[str] = Field(default_factory=lambda: ["#101418"], min_length=1, max_length=2)
    angle: int = 135
    image: Path | None = None
    scrim: float = Field(default=0.55, ge=0.0, le=1.0)

    @field_validator("colors")
    @classmethod
    def _colours(cls, v: list[str]) -> list[str]:
        return [_check_colour(c) for c in v]


class Theme(_Model):
    """How a card looks. Font names are files in assets/fonts/."""

    background: Background = Field(default_factory=Background)
    text_color: str = "#F5F1E8"
    accent_color: str = "#F2B134"
    muted_color: str = "#A9B0B8"
    quote_font: str = "Fraunces-Variable.ttf"
    quote_weight: int | None = None
    attribution_font: str = "Inter-Variable.ttf"
    attribution_weight: int | None = None
    quote_size_min: int = Field(default=34, ge=8)
    quote_size_max: int = Field(default=110, le=400)
    line_height: float = Field(default=1.18, ge=0.8, le=3.0)  # quote baseline pitch, in em
    logo: Path | None = None
    logo_position: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "top-left"
    show_handle: bool = True
    category_label: str | None = None
    # readable sizes as cap heights on a 1080-wide card (scaled with the card's width)
    author_cap_px: int = Field(default=30, ge=30)
    small_cap_px: int = Field(default=24, ge=24)  # role, label, handle
    quote_size_readable: int = Field(default=44, ge=8)  # `check` warns below (px at 1080 wide)
    brand_mark: Literal["monogram", "none"] = "monogram"  # drawn when no logo is set
    photo_focus: tuple[float, float] = (0.5, 0.3)  # crop centre of the speaker photo (x, y)

    @field_validator("text_color", "accent_color", "muted_color")
    @classmethod
    def _colour(cls, v: str) -> str:
        return _check_colour(v)


class Brand(_Model):
    name: str = "quotecast"
    handle: str = "@quotecast"
    url: str | None = None
    logo: Path | None = None


def _check_slots(v: list[str]) -> list[str]:
    from pipeline.schedule import SlotError, parse_slot

    for text in v:
        try:
            parse_slot(text)
        except SlotError as exc:
            raise ValueError(str(exc)) from None
    return v


class TargetSettings(_Model):
    """One account on one network with its card format. Secrets come from the env."""

    network: str
    format: str = "square"
    theme: str | None = None
    enabled: bool = True
    caption: str | None = None  # Jinja2 template overriding the network default
    slots: list[str] | None = None  # per-target schedule override
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("slots")
    @classmethod
    def _slots(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_slots(v)


class ScheduleSettings(_Model):
    timezone: str = "UTC"
    slots: list[str] = Field(default_factory=lambda: ["mon-fri 09:00"])
    misfire_grace: int = Field(default=900, ge=0, description="seconds")
    jitter: int = Field(default=0, ge=0, description="seconds of random delay per slot")
    runway_alert_slots: int = Field(default=3, ge=0)
    # the daemon (`quotecast run`); small values make tests fast
    rescan_interval: float = Field(default=60.0, gt=0, description="seconds between full rescans")
    watch_interval: float = Field(default=2.0, gt=0, description="seconds between queue checks")
    heartbeat_interval: float = Field(default=30.0, gt=0, description="seconds")
    stop_timeout: float = Field(default=90.0, gt=0, description="seconds to finish on SIGTERM")

    @field_validator("slots")
    @classmethod
    def _slots(cls, v: list[str]) -> list[str]:
        return _check_slots(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}, e.g. 'Europe/London'") from None
        return v


class LinksSettings(_Model):
    utm: bool = True
    utm_medium: str = "social"
    utm_campaign: str | None = None  # default: the item's slug
    # said instead of a link where captions cannot link (Instagram); per target: options.link_in_bio
    bio_text: str = Field(default="Link in bio", min_length=1, max_length=100)


class SiteSettings(_Model):
    title: str | None = None
    base_url: str | None = None
    deploy: str | None = None
    description: str | None = Field(default=None, max_length=300)  # line under the title
    deploy_timeout: float = Field(default=300.0, gt=0, description="seconds")
    feed_items: int = Field(default=50, ge=1, le=1000)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        from pipeline.links import LinkError, check_url

        if v is None:
            return v
        try:
            return check_url(v)
        except LinkError as exc:
            raise ValueError(str(exc)) from None


class PublishSettings(_Model):
    """Retry policy and claim lease; small values make tests fast."""

    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_initial: float = Field(default=2.0, ge=0)
    backoff_max: float = Field(default=120.0, ge=0)
    max_total_seconds: float = Field(default=600.0, ge=0)
    lease_seconds: int = Field(default=600, ge=5)
    request_timeout: float = Field(default=30.0, gt=0)


def _default_themes() -> dict[str, Theme]:
    return {"dark": Theme()}


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix="QUOTECAST_",
        env_nested_delimiter="__",
        extra="forbid",
        env_ignore_empty=True,
    )

    data_dir: Path = Path("var")
    queue_dir: Path = Path("queue")
    #: SQLAlchemy URL of a shared ledger (PostgreSQL) when several machines share the
    #: work; default: SQLite under data_dir. A URL with a password belongs in the env.
    ledger_url: SecretStr | None = None
    log_level: str = "INFO"
    brand: Brand = Field(default_factory=Brand)
    default_theme: str = "dark"
    themes: dict[str, Theme] = Field(default_factory=_default_themes)
    formats: dict[str, CardFormat] = Field(default_factory=lambda: dict(DEFAULT_FORMATS))
    targets: dict[str, TargetSettings] = Field(
        default_factory=lambda: {"outbox": TargetSettings(network="outbox", format="square")}
    )
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    captions: dict[str, str] = Field(default_factory=dict)
    links: LinksSettings = Field(default_factory=LinksSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    notify: list[str] = Field(default_factory=list)

    # set by load_settings, not by users
    config_path: Path | None = Field(default=None, exclude=True)
    env_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # earlier wins: environment over .env over the TOML (passed as init kwargs by
        # load_settings, the only constructor) over the defaults
        return (env_settings, _KnownFieldsOnly(settings_cls, dotenv_settings), init_settings)

    # -- derived -----------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    def path(self, p: Path) -> Path:
        """Resolve a config path against the config file's folder."""
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def ledger_address(self) -> str | None:
        """The ledger's SQLAlchemy URL, or None for SQLite under the data folder."""
        return self.ledger_url.get_secret_value() if self.ledger_url else None

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    @property
    def queue_path(self) -> Path:
        return self.path(self.queue_dir)

    def format_for(self, target: str) -> tuple[str, CardFormat]:
        name = self.targets[target].format
        return name, self.formats[name]

    def theme_for(self, item_theme: str | None, target: str | None = None) -> tuple[str, Theme]:
        name = item_theme or (self.targets[target].theme if target else None) or self.default_theme
        return name, self.themes[name]

    def enabled_targets(self) -> list[str]:
        return [name for name, t in self.targets.items() if t.enabled]

    def target_secrets(self, target: str, names: tuple[str, ...]) -> dict[str, SecretStr]:
        """Secrets for one target from the environment, else .env; nothing else."""
        from pipeline.publishers.base import secret_env_name

        dotenv = _read_dotenv(self.env_file)
        found: dict[str, SecretStr] = {}
        for key in names:
            var = secret_env_name(target, key)
            value = os.environ.get(var) or dotenv.get(var)
            if value:
                found[key] = SecretStr(value)
        return found

    def dotenv_secret_values(self) -> list[str]:
        """Values of the secret-looking QUOTECAST_ variables in .env, for the log scrubber
        (which reads the environment's itself)."""
        from pipeline.logs import is_secret_name

        dotenv = _read_dotenv(self.env_file)
        return [v for k, v in dotenv.items() if is_secret_name(k) and len(v) >= 6]


class _KnownFieldsOnly(PydanticBaseSettingsSource):
    """.env also holds secrets (QUOTECAST_X_ACCESS_TOKEN…), which are not settings fields."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        return {k: v for k, v in data.items() if k in self.settings_cls.model_fields}


def _read_dotenv(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """--config PATH, else $QUOTECAST_CONFIG, else ./config.toml if it exists."""
    chosen = explicit or os.environ.get("QUOTECAST_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{path}: config file not found; run `quotecast init` to create one "
                "or pass --config with an existing file"
            )
        return path.resolve()
    default = Path.cwd() / "config.toml"
    return default.resolve() if default.is_file() else None


def require_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """Like find_config_path, but no configuration at all is an error, not silent defaults.

    Running with built-in defaults would post to the wrong place and scatter a var/
    folder wherever the command happened to run; say how to make a config instead.
    """
    path = find_config_path(explicit)
    if path is None:
        raise ConfigError(
            f"no configuration found: no config.toml in {Path.cwd()}, no --config and no "
            "QUOTECAST_CONFIG; run `quotecast init` to create one here, or pass --config PATH"
        )
    return path


def _secret_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found.extend(_secret_keys(value, dotted + "."))
        elif (is_secret_key(str(key)) and value not in (None, "")) or (
            isinstance(value, str) and _BEARER_VALUE.match(value)
        ):
            found.append(dotted)
    return found


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _secret_hint(dotted: str) -> str:
    from pipeline.publishers.base import secret_env_name

    parts = dotted.split(".")
    if len(parts) >= 3 and parts[0] == "targets":
        if "headers" in parts[2:-1]:  # no header is read from the environment
            return (
                f"{secret_env_name(parts[1], 'url')} (a URL that carries the credential) or "
                f"{secret_env_name(parts[1], 'signing_secret')}"
            )
        return secret_env_name(parts[1], key_words(parts[-1]))
    return "QUOTECAST_" + "_".join(key_words(p) for p in parts).upper()


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=", re.M)
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def load_settings(
    config: str | os.PathLike[str] | None = None, env_file: str | os.PathLike[str] | None = None
) -> Settings:
    """Load and validate the configuration; raise ConfigError with file, line and field."""
    path = find_config_path(config)
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}; fix the syntax there") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        secrets = _secret_keys(data)
        url = data.get("ledger_url")
        if isinstance(url, str) and _has_password(url):
            secrets.insert(0, "ledger_url")
        if secrets:
            dotted = secrets[0]
            line = _line_of(text, dotted.split(".")[-1])
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(
                f"{where}: {dotted}: secrets are not read from the config file; remove it and "
                f"set {_secret_hint(dotted)} in the environment or .env"
            )
    dotenv = Path(env_file) if env_file else Path.cwd() / ".env"
    try:
        settings = Settings(_env_file=dotenv if dotenv.is_file() else None, **data)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, text)) from None
    settings.config_path = path
    settings.env_file = dotenv if dotenv.is_file() else None
    _cross_check(settings, path)
    return settings


def _describe(exc: ValidationError, path: Path | None, text: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        line = _line_of(text, str(err["loc"][-1])) if text and err["loc"] else None
        where = f"{path}:{line}" if path and line else str(path or "configuration")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting; check the spelling against config.example.toml"
        lines.append(f"{where}: {loc}: {msg}")
    return "\n".join(lines)


def _cross_check(s: Settings, path: Path | None) -> None:
    where = str(path or "configuration")
    from pipeline.publishers import REGISTRY

    if s.default_theme not in s.themes:
        raise ConfigError(f"{where}: default_theme: no theme named {s.default_theme!r}")
    for name, t in s.targets.items():
        if t.network not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise ConfigError(
                f"{where}: targets.{name}.network: unknown network {t.network!r}; "
                f"use one of {known}"
            )
        if t.format not in s.formats:
            known = ", ".join(sorted(s.formats))
            raise ConfigError(
                f"{where}: targets.{name}.format: unknown format {t.format!r}; use one of {known}"
            )
        if t.theme and t.theme not in s.themes:
            raise ConfigError(f"{where}: targets.{name}.theme: no theme named {t.theme!r}")
