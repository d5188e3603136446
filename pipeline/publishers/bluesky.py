"""Bluesky through the `atproto` SDK: one uploadBlob and one createRecord per post.

The record key (rkey) is derived from the post's idempotency key, so a retried or
reconciled post always targets the same at:// URI: the PDS refuses a second copy
instead of publishing it twice, and `find` proves absence with a single getRecord.
Only `com.atproto.*` endpoints are called, so a bare PDS without an AppView works.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
from atproto import Client, Session, SessionEvent, models
from atproto_client.exceptions import LoginRequiredError, ModelError, RateLimitExceededError
from atproto_client.models.common import XrpcError
from atproto_client.request import Request
from pydantic import BaseModel

from pipeline.files import atomic_write
from pipeline.posts import Post, Receipt
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    Limits,
    PermanentError,
    Publisher,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
    secret_env_name,
)
from pipeline.publishers.options import BlueskyOptions

log = logging.getLogger(__name__)
T = TypeVar("T")

COLLECTION = "app.bsky.feed.post"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID_BASE_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_SPAN_US = 1 << 44  # ≈ 203 days: every quotecast rkey falls in this window
_AUTH_ERRORS = {
    "ExpiredToken",
    "InvalidToken",
    "AuthenticationRequired",
    "AuthFactorTokenRequired",
    "AccountTakedown",
    "AccountDeactivated",
}
# transport failures that happen before a byte of the request left this machine
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def record_key(post: Post) -> str:
    """A valid TID made from post.idempotency_key; the same post always gets the same rkey.

    The PDS validates app.bsky.feed.post keys as TIDs. Their time part here is a
    hash-derived point in a fixed 2023 window, not the posting time (the TID spec says
    rkey times are not to be trusted; createdAt carries the real time).
    """
    n = int.from_bytes(hashlib.sha256(post.idempotency_key.encode()).digest()[:8], "big")
    value = ((_TID_BASE_US + (n >> 10) % _TID_SPAN_US) << 10) | (n & 0x3FF)
    return "".join(_TID_CHARS[(value >> (60 - 5 * i)) & 31] for i in range(13))


def _is_quotecast_key(rkey: str) -> bool:
    """True for a TID inside the window record_key() uses."""
    if len(rkey) != 13 or any(c not in _TID_CHARS for c in rkey):
        return False
    value = 0
    for c in rkey:
        value = (value << 5) | _TID_CHARS.index(c)
    return 0 <= (value >> 10) - _TID_BASE_US < _TID_SPAN_US


def _xrpc_error(exc: BaseException) -> tuple[int | None, str, str]:
    """(HTTP status, XRPC error name, message) of an atproto error; status None if no reply."""
    response = getattr(exc, "response", None)
    if response is None:
        return None, "", ""
    content = response.content
    if isinstance(content, XrpcError):
        return response.status_code, content.error or "", (content.message or "")[:200]
    return response.status_code, "", ""


def _retry_after(exc: BaseException) -> float | None:
    """Seconds until the rate limit resets: Retry-After, else the ratelimit-reset epoch."""
    if not isinstance(exc, RateLimitExceededError):
        return None
    wait: float | None = exc.retry_after
    if wait is None and exc.reset_at is not None:
        reset_at: datetime = exc.reset_at
        wait = max((reset_at - datetime.now(UTC)).total_seconds(), 0.0)
    return wait


def _field(obj: Any, name: str) -> Any:
    """A field of a record as the SDK returns it (model, DotDict or plain dict)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _created_at(value: Any) -> datetime:
    raw = _field(value, "created_at") or _field(value, "createdAt")
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class BlueskyPublisher(Publisher):
    """One Bluesky account (any PDS). Options: handle (required), api_base, request_timeout,
    langs, find_scan (recent records `find` also checks), session_cache (default true)."""

    network = "bluesky"
    options_model: ClassVar[type[BaseModel] | None] = BlueskyOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=300,
        caption_counter="graphemes",
        image_max_bytes=1_000_000,
        image_mimes=("image/png", "image/jpeg"),
        alt_text_max=2000,
    )
    secret_names = ("app_password",)
    find_is_authoritative = True
    retry_is_idempotent = True

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        opts = ctx.options
        self.api_base = str(opts.get("api_base") or "https://bsky.social")
        self.handle = str(opts.get("handle") or "").strip().lstrip("@")
        self.timeout = float(opts.get("request_timeout") or 30.0)
        self.langs = [str(lang) for lang in opts.get("langs") or []]
        self.find_scan = min(int(opts.get("find_scan", 50)), 100)
        self.session_file: Path | None = None
        if opts.get("session_cache", True):
            tag = hashlib.sha256(f"{self.api_base}|{self.handle}".encode()).hexdigest()[:8]
            self.session_file = ctx.data_dir / "sessions" / f"bluesky-{ctx.name}-{tag}.session"
        self._api: Client | None = None
        self._did: str | None = None

    # -- publishing ----------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self.limits.refuse("bluesky", post)
        rkey = record_key(post)
        card = post.card
        blob = self._call(
            "uploadBlob",
            lambda api: (
                api.com.atproto.repo.upload_blob(
                    card.data, headers={"Content-Type": card.mime}
                ).blob
            ),
        )
        record = self._record(post, blob)
        try:
            created = self._call(
                "createRecord",
                lambda api: api.com.atproto.repo.create_record(
                    models.ComAtprotoRepoCreateRecord.Data(
                        repo=self._repo(), collection=COLLECTION, rkey=rkey, record=record
                    )
                ),
                sends_post=True,
            )
        except TransientError as exc:
            # the reference PDS answers a taken rkey with a bare 500: look before retrying
            if isinstance(exc, RateLimitedError) or self._safe_get(rkey) is None:
                raise
            raise DuplicateError(
                f"bluesky createRecord: record {rkey} already exists for this post ({exc})"
            ) from exc
        log.debug("bluesky %s: created %s", self.ctx.name, created.uri)
        return Receipt(created.uri, self._web_url(rkey), datetime.now(UTC))

    def find(self, post: Post) -> Receipt | None:
        """The record at the post's rkey; else a recent record not made by quotecast
        (e.g. posted by hand) with the same text and alt text."""
        rkey = record_key(post)
        got = self._get(rkey)
        if got is not None:
            return Receipt(got.uri, self._web_url(rkey), _created_at(got.value))
        if self.find_scan <= 0:
            return None
        listing = self._call(
            "listRecords",
            lambda api: api.com.atproto.repo.list_records(
                models.ComAtprotoRepoListRecords.Params(
                    repo=self._repo(), collection=COLLECTION, limit=self.find_scan
                )
            ),
        )
        for rec in listing.records:
            other = str(rec.uri).rsplit("/", 1)[-1]
            if not _is_quotecast_key(other) and self._same_content(rec.value, post):
                return Receipt(rec.uri, self._web_url(other), _created_at(rec.value))
        return None

    def close(self) -> None:
        if self._api is not None:
            self._api.request.close()
            self._api = None

    # -- the record ----------------------------------------------------------------------
    def _record(self, post: Post, blob: Any) -> models.AppBskyFeedPost.Record:
        card = post.card
        image = models.AppBskyEmbedImages.Image(
            alt=post.alt_text,
            image=blob,
            aspect_ratio=models.AppBskyEmbedDefs.AspectRatio(width=card.width, height=card.height),
        )
        return models.AppBskyFeedPost.Record(
            text=post.caption,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            facets=self._facets(post) or None,
            embed=models.AppBskyEmbedImages.Main(images=[image]),
            langs=self.langs or None,
        )

    @staticmethod
    def _facets(post: Post) -> list[models.AppBskyRichtextFacet.Main]:
        """post.facets as richtext facets; offsets must be UTF-8 byte offsets on char bounds."""
        text = post.caption.encode("utf-8")
        out = []
        for f in post.facets:
            try:
                if not 0 <= f.byte_start < f.byte_end <= len(text):
                    raise ValueError
                text[: f.byte_start].decode("utf-8")
                text[f.byte_start : f.byte_end].decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise PermanentError(
                    f"facet {f.kind} [{f.byte_start}, {f.byte_end}) is not a UTF-8 byte range "
                    f"of the {len(text)}-byte caption"
                ) from None
            feature: Any
            if f.kind == "link":
                feature = models.AppBskyRichtextFacet.Link(uri=f.value)
            elif f.kind == "tag":
                feature = models.AppBskyRichtextFacet.Tag(tag=f.value.lstrip("#"))
            else:
                raise PermanentError(f"unknown facet kind {f.kind!r}")
            index = models.AppBskyRichtextFacet.ByteSlice(
                byte_start=f.byte_start, byte_end=f.byte_end
            )
            out.append(models.AppBskyRichtextFacet.Main(features=[feature], index=index))
        return out

    @staticmethod
    def _same_content(value: Any, post: Post) -> bool:
        images = _field(_field(value, "embed"), "images") or []
        alt = _field(images[0], "alt") if images else None
        return bool(_field(value, "text") == post.caption and alt == post.alt_text)

    def _web_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self.handle}/post/{rkey}"

    def _repo(self) -> str:
        return self._did or self.handle

    def _get(self, rkey: str) -> Any:
        """getRecord for our rkey; None when the PDS says RecordNotFound."""

        def fetch(api: Client) -> Any:
            try:
                return api.com.atproto.repo.get_record(
                    models.ComAtprotoRepoGetRecord.Params(
                        repo=self._repo(), collection=COLLECTION, rkey=rkey
                    )
                )
            except Exception as exc:
                if _xrpc_error(exc)[1] == "RecordNotFound":
                    return None
                raise

        return self._call("getRecord", fetch)

    def _safe_get(self, rkey: str) -> Any:
        try:
            return self._get(rkey)
        except PublishError:
            return None

    # -- session and errors ----------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[Client], T], sends_post: bool = False) -> T:
        """Run one XRPC call; a refused reused session gets one fresh password login."""
        for attempt in (1, 2):
            api, fresh = self._connect()
            try:
                return fn(api)
            except Exception as exc:
                if attempt == 1 and not fresh and self._session_refused(exc):
                    log.info("bluesky %s: session refused; logging in again", self.ctx.name)
                    self._drop_session()
                    continue
                raise self._error(exc, what, sends_post) from exc
        raise AssertionError("unreachable")

    def _connect(self) -> tuple[Client, bool]:
        """The logged-in client; True when a password login happened just now."""
        if self._api is not None:
            return self._api, False
        if not self.handle:
            raise PermanentError(
                f"target {self.ctx.name!r}: option 'handle' is required "
                '(e.g. handle = "name.bsky.social")'
            )
        api = Client(base_url=self.api_base, request=Request(timeout=self.timeout))
        api.on_session_change(self._session_changed)
        cached = self._read_session()
        if cached is not None:
            api.login(session_string=cached, fetch_bsky_profile=False)  # no request
            self._api = api
            return api, False
        password = self.ctx.secret("app_password")
        try:
            api.login(self.handle, password, fetch_bsky_profile=False)
        except Exception as exc:
            api.request.close()
            raise self._error(exc, "createSession", sends_post=False) from exc
        self._api = api
        return api, True

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self._did = session.did
        if self.session_file is not None and event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            try:  # tokens: owner-only (0600); a cache that cannot be written costs a login
                atomic_write(self.session_file, session.export().encode(), mode=0o600)
            except OSError as exc:
                log.warning("bluesky %s: cannot cache the session: %s", self.ctx.name, exc)

    def _read_session(self) -> str | None:
        if self.session_file is None or not self.session_file.is_file():
            return None
        text = self.session_file.read_text(encoding="utf-8").strip()
        try:
            session = Session.decode(text)
        except ValueError:
            return None
        return text if session.handle.lower() == self.handle.lower() else None

    def _drop_session(self) -> None:
        self.close()
        if self.session_file is not None:
            self.session_file.unlink(missing_ok=True)

    @staticmethod
    def _session_refused(exc: BaseException) -> bool:
        status, name, _ = _xrpc_error(exc)
        return (
            isinstance(exc, LoginRequiredError)
            or status == 401
            or (status == 400 and name in ("ExpiredToken", "InvalidToken"))
        )

    def _error(self, exc: BaseException, what: str, sends_post: bool) -> PublishError:
        """Map an atproto/httpx error onto the taxonomy; messages never carry the secret."""
        if isinstance(exc, PublishError):
            return exc
        status, name, message = _xrpc_error(exc)
        detail = self._scrub(f"{status} {name}: {message}".strip(" :") if status else str(exc))
        where = f"bluesky {what}"
        if status == 429:
            return RateLimitedError(f"{where}: rate limited ({detail})", _retry_after(exc))
        if (
            isinstance(exc, LoginRequiredError)
            or status in (401, 403)
            or (status == 400 and name in _AUTH_ERRORS)
        ):
            env = secret_env_name(self.ctx.name, "app_password")
            return AuthError(
                f"target {self.ctx.name!r}: Bluesky refused the credentials of {self.handle} "
                f"({detail}); check {env} (an app password) and the handle",
                credential=env,
            )
        if status is None:
            cause = exc if isinstance(exc, httpx.TransportError) else exc.__cause__
            if isinstance(cause, httpx.TransportError):  # no reply: a transport failure
                kind = type(cause).__name__
                if sends_post and not isinstance(cause, _NOT_SENT):
                    return AmbiguousError(
                        f"{where}: connection lost after sending ({kind}); the post may exist; "
                        "find() tells, and a resend reuses the same record key"
                    )
                return TransientError(f"{where}: {kind}")
            if sends_post and isinstance(exc, ModelError):
                return AmbiguousError(f"{where}: unreadable reply ({detail}); the post may exist")
            return PermanentError(f"{where}: unexpected {type(exc).__name__}: {detail}")
        if status == 501:  # the server does not serve this method
            return PermanentError(f"{where}: {detail}")
        if status >= 500 or status in (408, 409):
            return TransientError(f"{where}: {detail}")
        return PermanentError(f"{where}: {detail}")

    def _scrub(self, text: str) -> str:
        secret = self.ctx.secrets.get("app_password")
        value = secret.get_secret_value() if secret is not None else ""
        return text.replace(value, "***") if value else text
