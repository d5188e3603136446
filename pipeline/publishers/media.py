"""Public URLs for card images: Meta's and Threads' APIs fetch the image, they take no upload.

Two homes behind one small interface (`MediaHost.publish(card) -> url`):

* `SiteMedia` (default): the bio site's `media/` folder. Names are the SHA-256 of the bytes
  (unguessable without the image, and a changed card never reuses a name, so no cache can
  serve a stale one); `site.deploy` runs when the URL does not serve the file yet.
* `S3Media` (`options.media = "s3"`): an S3-compatible bucket through boto3.

Either way, before any network API sees the URL we fetch it ourselves the way Meta's
crawler does — a GET with the facebookexternalhit user agent, after reading the host's
robots.txt for Meta's crawler agents (developers.facebook.com/docs/sharing/webmasters/
web-crawlers) — and want 200 with an image Content-Type. A broken base_url, a firewall
that only lets browsers through, or a robots rule against facebookexternalhit then fails
here, once, naming what blocks it, instead of as Meta's vague 2207052 "media could not be
fetched".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit
from urllib.robotparser import RobotFileParser

import requests

from pipeline.posts import Card
from pipeline.publishers.base import (
    AuthError,
    PermanentError,
    PublishError,
    TargetContext,
    TransientError,
    secret_env_name,
)
from pipeline.publishers.net import short

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

MEDIA_FOLDER = "media"


class MediaHost(Protocol):
    """Makes a card publicly fetchable and returns its URL (checked to serve an image)."""

    def publish(self, card: Card) -> str: ...


def media_name(card: Card) -> str:
    """Content-hashed file name: the same bytes always get the same name."""
    return f"{card.sha256}.{card.extension}"


# -- checking a public URL ---------------------------------------------------------------


#: the user agent Meta's fetcher sends (Meta "Web crawlers" page)
CRAWLER_AGENT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
#: Meta's crawler agents whose robots.txt rules are read: a rule against the first one stops
#: Meta fetching the card (2207052); the others are named in a warning only — sites often
#: keep Meta-ExternalAgent (AI training) out on purpose, and it does not fetch API media
BLOCKING_AGENT = "facebookexternalhit"
OTHER_AGENTS = ("meta-externalfetcher", "meta-externalagent")


def probe(url: str, timeout: float) -> str | None:
    """None when `url` answers Meta's crawler (GET, its user agent) with 200 and an image
    Content-Type; else what it answered."""
    try:
        response = requests.get(
            url,
            timeout=timeout,
            allow_redirects=True,
            stream=True,
            headers={"User-Agent": CRAWLER_AGENT, "Accept": "image/*,*/*;q=0.8"},
        )
        response.close()
    except requests.RequestException as exc:
        return f"no answer ({type(exc).__name__})"
    ctype = response.headers.get("Content-Type", "")
    if response.status_code == 200 and ctype.lower().startswith("image/"):
        return None
    return f"HTTP {response.status_code} with Content-Type {ctype or 'none'}"


def robots_block(url: str, timeout: float) -> tuple[str, str] | None:
    """(agent, rule) when the host's robots.txt keeps Meta's fetcher from `url`; warns
    (log) about rules against Meta's other crawler agents. None when nothing blocks it."""
    parts = urlsplit(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    try:
        answer = requests.get(robots_url, timeout=timeout, headers={"User-Agent": CRAWLER_AGENT})
    except requests.RequestException:
        return None  # unreachable robots.txt: crawlers treat the site as open
    if answer.status_code != 200:
        return None  # 4xx: no rules; 5xx: Meta retries later, the GET check decides
    parser = RobotFileParser(robots_url)
    parser.parse(answer.text.splitlines())
    for agent in (BLOCKING_AGENT, *OTHER_AGENTS):
        if parser.can_fetch(agent, url):
            continue
        rule = _rule_for(answer.text, agent, parts.path or "/")
        if agent == BLOCKING_AGENT:
            return agent, f"{robots_url}: {rule}"
        log.warning(
            "media: %s keeps %s out (%s); Meta's fetcher is not blocked", robots_url, agent, rule
        )
    return None


def _rule_for(text: str, agent: str, path: str) -> str:
    """The robots.txt group and Disallow line that keep `agent` from `path`, as text."""
    groups: list[tuple[list[str], list[str]]] = []
    for raw in text.splitlines():
        key, _, value = raw.split("#", 1)[0].partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if not groups or groups[-1][1]:
                groups.append(([], []))
            groups[-1][0].append(value)
        elif key == "disallow" and groups and value and path.startswith(value.rstrip("*$")):
            groups[-1][1].append(value)
        elif key in ("allow", "disallow") and groups:
            groups[-1][1].append("")  # a rule line that does not block: ends the agent list
    name = agent.lower()
    for specific in (True, False):
        for agents, rules in groups:
            blocking = [r for r in rules if r]
            shown = [a for a in agents if (a != "*" and a.lower() in name) == specific]
            if not specific:
                shown = [a for a in shown if a == "*"]
            if shown and blocking:
                return f"User-agent: {shown[0]} / Disallow: {blocking[0]}"
    return f"a rule for {agent}"


def check_public(url: str, timeout: float, hint: str) -> None:
    """Raise unless Meta's crawler may fetch `url` and gets an image: transient for outages,
    permanent otherwise (a robots rule, an error page, a non-image answer)."""
    blocked = robots_block(url, timeout)
    if blocked is not None:
        agent, rule = blocked
        raise PermanentError(
            f"media: {url} is kept from Meta's crawler ({agent}) by robots.txt ({rule}); "
            f"Meta would refuse it with 2207052. Allow {agent} for the media folder"
        )
    got = probe(url, timeout)
    if got is None:
        return
    message = f"media: {url} is not publicly served as an image: got {got}; {hint}"
    if got.startswith("no answer") or got.startswith("HTTP 5"):
        raise TransientError(message)
    raise PermanentError(message)


# -- the bio site's media folder -----------------------------------------------------------


class SiteMedia:
    """Cards under <site>/media/, deployed with site.deploy, served at base_url/media/."""

    def __init__(
        self,
        site_dir: Path,
        base_url: str,
        deploy: Callable[[], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.site_dir = site_dir
        self.base_url = base_url.rstrip("/") + "/"
        self.deploy = deploy
        self.timeout = timeout

    def publish(self, card: Card) -> str:
        rel = f"{MEDIA_FOLDER}/{media_name(card)}"
        path = self.site_dir / rel
        if not (path.is_file() and path.read_bytes() == card.data):
            _write_public(path, card.data)
        url = self.base_url + rel
        hint = f"the card is at {path}; check [site] base_url" + (
            " and site.deploy" if self.deploy else " (and set site.deploy to publish the site)"
        )
        if self.deploy is not None and probe(url, self.timeout) is not None:
            self.deploy()  # not served yet: publish the site, then check again
        check_public(url, self.timeout, hint)
        return url


def _write_public(path: Path, data: bytes) -> None:
    """Atomic write, readable by a web server (mkstemp would leave it 0600)."""
    from pipeline.files import atomic_write

    atomic_write(path, data, 0o644)


def site_deploy(settings: Settings, site: Path) -> Callable[[], None] | None:
    """site.deploy as a callable raising TransientError (with its stderr's last line)."""
    if not settings.site.deploy:
        return None

    def run() -> None:
        from pipeline.site_deploy import deploy

        result = deploy(settings, site)
        if result is not None and not result.ok:
            raise TransientError(f"media: {result.message}")
        log.info("media: site deployed for a card")

    return run


# -- an S3-compatible bucket --------------------------------------------------------------


class _Redact(logging.Filter):
    """botocore logs request headers at DEBUG; keep the access key id out of them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            text = record.getMessage()
            clean = text
            for value in self.values:
                clean = clean.replace(value, "[redacted]")
            if clean != text:
                record.msg, record.args = clean, None
        return True


_REDACT = _Redact()


class S3Media:
    """Cards as objects `<prefix><sha256>.<ext>` in a bucket, read back at public_base_url."""

    def __init__(
        self,
        bucket: str,
        public_base_url: str,
        *,
        prefix: str = "quotecast/",
        endpoint_url: str | None = None,
        region: str | None = None,
        acl: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        credential_names: tuple[str, str] = ("", ""),
        timeout: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") + "/"
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self.acl = acl
        self.timeout = timeout
        self._keys = (access_key_id, secret_access_key)
        self._names = credential_names
        self._client: Any = None

    def publish(self, card: Card) -> str:
        key = f"{self.prefix}{media_name(card)}"
        url = self.public_base_url + quote(key)
        hint = f"check options s3_public_base_url and the bucket {self.bucket!r}'s public access"
        if probe(url, self.timeout) is None:
            return url  # same bytes, same name: already there
        extra = {"ACL": self.acl} if self.acl else {}
        try:
            self.client().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=card.data,
                ContentType=card.mime,
                CacheControl="public, max-age=31536000, immutable",
                **extra,
            )
        except Exception as exc:
            raise self._error(exc) from None
        check_public(url, self.timeout, hint)
        return url

    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise PermanentError(
                    "media: options.media = 's3' needs boto3; install quotecast[s3]"
                ) from None
            key_id, secret = self._keys
            for value in (key_id, secret):
                if value:
                    _REDACT.values.add(value)
            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                config=Config(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={"max_attempts": 1},
                ),
            )
            for name in list(logging.Logger.manager.loggerDict):
                if name.startswith(("botocore", "boto3", "s3transfer", "urllib3")):
                    logger = logging.getLogger(name)
                    if _REDACT not in logger.filters:
                        logger.addFilter(_REDACT)
        return self._client

    def _error(self, exc: Exception) -> PublishError:
        names = " and ".join(n for n in self._names if n) or "the AWS credentials"
        if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
            return AuthError(f"media: no credentials for the bucket; set {names}", self._names[0])
        response = getattr(exc, "response", None)
        if not isinstance(response, dict):
            return TransientError(f"media: cannot reach the bucket ({type(exc).__name__})")
        error = response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        detail = f"{code or status}: {short(error.get('Message') or 'no message')}"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"):
            return AuthError(
                f"media: the bucket {self.bucket!r} refused the upload ({detail}); check {names}",
                credential=self._names[0] or None,
            )
        if status >= 500 or code in ("SlowDown", "RequestTimeout", "InternalError"):
            return TransientError(f"media: bucket error ({detail}); will retry")
        return PermanentError(f"media: the bucket {self.bucket!r} refused the upload ({detail})")


# -- choosing the host for a target -------------------------------------------------------


def host_for(ctx: TargetContext) -> MediaHost:
    """The target's media home from its options and the config's [site] section."""
    options = ctx.options
    kind = str(options.get("media") or "site")
    timeout = float(options.get("media_check_timeout", 10.0))
    if kind == "s3":
        return _s3_from(ctx, timeout)
    if kind != "site":
        raise PermanentError(f"target {ctx.name!r}: options.media must be 'site' or 's3'")
    settings = settings_for(ctx.data_dir)
    base = options.get("media_base_url") or (settings.site.base_url if settings else None)
    if not base:
        raise PermanentError(
            f"target {ctx.name!r} needs a public home for its cards: set [site] base_url "
            "(and site.deploy) in the config, or options.media = 's3'"
        )
    site = ctx.data_dir / "site"
    deploy = site_deploy(settings, site) if settings is not None else None
    return SiteMedia(site, str(base), deploy, timeout)


def _s3_from(ctx: TargetContext, timeout: float) -> S3Media:
    o = ctx.options
    bucket = str(o.get("s3_bucket") or "")
    if not bucket:
        raise PermanentError(f"target {ctx.name!r}: options.media = 's3' needs s3_bucket")
    endpoint = o.get("s3_endpoint_url")
    region = o.get("s3_region")
    public = o.get("s3_public_base_url")
    if not public:
        public = (
            f"{str(endpoint).rstrip('/')}/{bucket}"
            if endpoint
            else f"https://{bucket}.s3.{region or 'us-east-1'}.amazonaws.com"
        )

    def secret(key: str) -> str | None:
        value = ctx.secrets.get(key)
        return value.get_secret_value() if value is not None else None

    return S3Media(
        bucket,
        str(public),
        prefix=str(o.get("s3_prefix", "quotecast/")),
        endpoint_url=str(endpoint) if endpoint else None,
        region=str(region) if region else None,
        acl=str(o["s3_acl"]) if o.get("s3_acl") else None,
        access_key_id=secret("s3_access_key_id"),
        secret_access_key=secret("s3_secret_access_key"),
        credential_names=(
            secret_env_name(ctx.name, "s3_access_key_id"),
            secret_env_name(ctx.name, "s3_secret_access_key"),
        ),
        timeout=timeout,
    )


def settings_for(data_dir: Path) -> Settings | None:
    """The config whose data folder is `data_dir`: $QUOTECAST_CONFIG, ./config.toml, or
    the data folder's parent. Publishers get no Settings, but [site] lives there."""
    from pipeline.config import load_settings
    from pipeline.errors import QuotecastError

    wanted = data_dir.resolve()
    seen: set[Path] = set()
    for candidate in (
        os.environ.get("QUOTECAST_CONFIG"),
        Path.cwd() / "config.toml",
        wanted.parent / "config.toml",
    ):
        if not candidate:
            continue
        path = Path(candidate).expanduser().resolve()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        try:
            settings = load_settings(path)
        except QuotecastError:
            continue
        if settings.data_path.resolve() == wanted:
            return settings
    return None


__all__ = [
    "MediaHost",
    "S3Media",
    "SiteMedia",
    "check_public",
    "host_for",
    "media_name",
    "probe",
    "settings_for",
]
