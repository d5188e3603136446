"""LinkedIn (member or organisation) through the versioned REST API.

Three steps, each with `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`:
POST /rest/images?action=initializeUpload → PUT the card's bytes to the upload URL →
POST /rest/posts with the image id and alt text; the new post's URN comes back in the
`x-restli-id` header. The commentary is LinkedIn's "little" text format, where
`\\ | { } @ [ ] ( ) < > # * _ ~` are markup: they are escaped (unescaped, LinkedIn cuts the
post at the first one), except inside links and in #hashtags, which stay live.
`find` looks for the commentary and alt text among the author's recent posts.

Member (person) tokens: a `w_member_social` token may upload and post but may not read
`GET /rest/images` or use the posts author finder (both need `r_member_social`, which
LinkedIn grants only to approved partners). So for a person the image is not polled:
the post is created at once and LinkedIn's "image not available yet" answer is retried
within `image_wait` (Postiz's LinkedIn provider likewise polls only organisation images).
A 403 on such a read is a scope the token lacks, never a refused credential, and `find`
for a person usually cannot look: an unclear send then ends `unknown`, never a resend.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel

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
    TargetBlockedError,
    TargetContext,
    TokenInfo,
    TransientError,
    secret_env_name,
)
from pipeline.publishers.net import maybe_sent, parse_time, retry_after, scrub, short
from pipeline.publishers.options import LinkedInOptions

log = logging.getLogger(__name__)

#: Marketing API versions with their documented sunset dates, from LinkedIn's own pages:
#: https://learn.microsoft.com/linkedin/marketing/versioning ("Latest Version: March 2026,
#: 202603"; versions are supported for at least one year) and the "API Migration Status"
#: table of https://learn.microsoft.com/linkedin/marketing/integrations/migrations
#: (202603 → March 16, 2027 … 202510 → October 15, 2026; there was no 202512).
VERSIONS: dict[str, date] = {
    "202510": date(2026, 10, 15),
    "202511": date(2026, 11, 16),
    "202601": date(2027, 1, 15),
    "202602": date(2027, 2, 15),
    "202603": date(2027, 3, 16),
}
#: the newest version the versioning page confirms as released and active
DEFAULT_VERSION = "202603"
#: `check` warns this many days before the configured version's sunset
VERSION_WARN_DAYS = 60
_AUTHOR = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
_KEEP = re.compile(r"https?://[^\s<>\"']+|(?<![\w#])#\w+")  # links and #hashtags
_RESERVED = re.compile(r"[\\|{}@\[\]()<>#*_~]")
_URN = re.compile(r"urn:li:(?:share|ugcPost):\d+")


def little(text: str) -> str:
    """`text` as little-format commentary: markup characters escaped, links and #tags kept."""
    out, pos = [], 0
    for m in _KEEP.finditer(text):
        token = m.group(0)
        kept = token if token.startswith("#") else token.rstrip(".,;:!?)]}'\"")
        out += [_escape(text[pos : m.start()]), kept, _escape(token[len(kept) :])]
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _escape(chunk: str) -> str:
    return _RESERVED.sub(lambda c: "\\" + c.group(0), chunk)


class LinkedInPublisher(Publisher):
    """Posts the card with commentary and alt text as `options.author` (a person or org URN)."""

    network: ClassVar[str] = "linkedin"
    options_model: ClassVar[type[BaseModel] | None] = LinkedInOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=3000,
        caption_counter="chars",
        image_max_bytes=8 * 1024 * 1024,
        image_mimes=("image/png", "image/jpeg"),
        alt_text_max=4086,
    )
    #: client_id / client_secret are optional: only token introspection (expiry) needs them
    secret_names: ClassVar[tuple[str, ...]] = ("access_token", "client_id", "client_secret")
    find_is_authoritative: ClassVar[bool] = False
    retry_is_idempotent: ClassVar[bool] = False

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.api_base = str(options.get("api_base") or "https://api.linkedin.com").rstrip("/")
        self.author = str(options.get("author") or "")
        self.version = str(options.get("linkedin_version") or DEFAULT_VERSION)
        self.oauth_base = str(options.get("oauth_base") or "https://www.linkedin.com").rstrip("/")
        self.visibility = str(options.get("visibility") or "PUBLIC")
        self.timeout = float(options.get("request_timeout", 30.0))
        self.image_wait = float(options.get("image_wait", 30.0))
        self.poll_interval = float(options.get("poll_interval", 1.0))
        self._no_image_reads = False  # set once /rest/images answered 403 for this token
        self.session = requests.Session()
        self._token: str | None = None

    # -- the interface --------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self._check(post)
        image = self._upload(post)
        body = {
            "author": self.author,
            "commentary": little(post.caption),
            "visibility": self.visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"media": {"id": image, "altText": post.alt_text}},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        try:
            response = self._create(body)
        except _Duplicate as dup:
            # LinkedIn names the post it already has: that post is this one's receipt
            log.info("linkedin: %s/%s is already posted as %s", post.slug, post.target, dup.urn)
            return Receipt(dup.urn, post_url(dup.urn), datetime.now(UTC))
        urn = response.headers.get("x-restli-id") or _json(response).get("id")
        if not urn:
            raise AmbiguousError("linkedin: the post was accepted without an x-restli-id")
        log.info("linkedin: posted %s/%s as %s", post.slug, post.target, urn)
        return Receipt(str(urn), post_url(str(urn)), datetime.now(UTC))

    def find(self, post: Post) -> Receipt | None:
        """The post among the author's recent ones. A person's token usually lacks the
        finder's `r_member_social`: the 403 then says find() could not look (not auth)."""
        self._check_options()
        author = quote(self.author, safe="")
        response = self._call(
            "GET",
            f"/rest/posts?q=author&author={author}&count=20&sortBy=LAST_MODIFIED",
            "listing the author's recent posts (the author finder needs r_member_social "
            "for a person, r_organization_social for an organisation)",
            headers={"X-RestLi-Method": "FINDER"},
        )
        wanted = {little(post.caption), post.caption}
        for item in _json(response).get("elements") or []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            media = (item.get("content") or {}).get("media") or {}
            if item.get("commentary") in wanted and media.get("altText") in (post.alt_text, None):
                when = parse_time(item.get("publishedAt") or item.get("createdAt"))
                return Receipt(
                    str(item["id"]), post_url(str(item["id"])), when or datetime.now(UTC)
                )
        return None

    def token_expiry(self) -> TokenInfo | None:
        """Token introspection (POST {oauth_base}/oauth/v2/introspectToken with the app's
        client id and secret, https://learn.microsoft.com/linkedin/shared/authentication/
        token-introspection): `expires_at` in epoch seconds. Without the client credentials
        LinkedIn cannot be asked; None then."""
        client_id = self.ctx.secrets.get("client_id")
        client_secret = self.ctx.secrets.get("client_secret")
        if client_id is None or client_secret is None:
            return None
        try:
            response = self.session.post(
                f"{self.oauth_base}/oauth/v2/introspectToken",
                data={
                    "token": self._secret(),
                    "client_id": client_id.get_secret_value(),
                    "client_secret": client_secret.get_secret_value(),
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise TransientError(
                f"linkedin: token introspection failed ({type(exc).__name__})"
            ) from None
        if response.status_code >= 300:
            raise self._error(response, "introspecting the token", read=True)
        body = _json(response)
        if body.get("active") is False or body.get("status") in ("revoked", "expired"):
            env = secret_env_name(self.ctx.name, "access_token")
            state = body.get("status") or "not active"
            raise AuthError(
                f"linkedin: target {self.ctx.name!r}: the token is {state}; set a new one in {env}",
                credential=env,
            )
        expires = body.get("expires_at")
        when = (
            datetime.fromtimestamp(float(expires), UTC)
            if isinstance(expires, int | float)
            else None
        )
        return TokenInfo(when, f"scopes: {body.get('scope') or '?'}")

    def close(self) -> None:
        self.session.close()

    # -- steps ----------------------------------------------------------------------------
    def _check_options(self) -> None:
        if not _AUTHOR.match(self.author):
            raise PermanentError(
                f"linkedin: target {self.ctx.name!r}: options.author must be "
                "urn:li:person:<id> or urn:li:organization:<id>"
            )

    def _check(self, post: Post) -> None:
        self._check_options()
        self.limits.refuse("linkedin", post)

    def _upload(self, post: Post) -> str:
        """initializeUpload, PUT the bytes, wait (bounded) until the image is AVAILABLE."""
        init = self._call(
            "POST",
            "/rest/images?action=initializeUpload",
            "starting the image upload",
            json={"initializeUploadRequest": {"owner": self.author}},
        )
        value = _json(init).get("value") or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image:
            raise TransientError("linkedin: initializeUpload answered without uploadUrl/image")
        headers = {"Content-Type": "application/octet-stream"}
        if self._trusted(str(upload_url)):
            headers["Authorization"] = f"Bearer {self._secret()}"
        try:
            put = self.session.put(
                str(upload_url), data=post.card.data, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise TransientError(f"linkedin: upload failed ({type(exc).__name__})") from None
        if put.status_code >= 300:
            raise self._error(put, "uploading the image")
        if not self._wait_on_post:
            try:
                self._wait_available(str(image))  # organisation tokens may read /rest/images
            except _ScopeDenied:
                # no r_organization_social: wait on the post instead, as for a person
                log.info(
                    "linkedin: %s cannot read /rest/images; waiting on the post", self.ctx.name
                )
                self._no_image_reads = True
        return str(image)

    @property
    def _is_person(self) -> bool:
        return self.author.startswith("urn:li:person:")

    @property
    def _wait_on_post(self) -> bool:
        """Retry "image not available yet" on the post instead of polling /rest/images:
        always for persons (member tokens cannot read it), and for an organisation whose
        token turned out not to have the read scope."""
        return self._is_person or self._no_image_reads

    def _create(self, body: dict[str, Any]) -> requests.Response:
        """POST /rest/posts; for a person (image not polled) an "image not available yet"
        answer is retried within image_wait — nothing was posted when LinkedIn says so."""
        deadline = time.monotonic() + self.image_wait
        while True:
            try:
                return self._call(
                    "POST", "/rest/posts", "creating the post", json=body, posting=True
                )
            except _NotReady as exc:
                if not self._wait_on_post or time.monotonic() >= deadline:
                    raise TransientError(
                        f"{exc}; the image was still processing after {self.image_wait:g}s"
                    ) from None
                time.sleep(self.poll_interval)

    def _wait_available(self, image: str) -> None:
        deadline = time.monotonic() + self.image_wait
        while True:
            status = _json(
                self._call("GET", f"/rest/images/{quote(image, safe='')}", "checking the image")
            ).get("status")
            if status == "AVAILABLE":
                return
            if status == "PROCESSING_FAILED":
                raise PermanentError(f"linkedin: LinkedIn could not process the image {image}")
            if time.monotonic() >= deadline:
                raise TransientError(
                    f"linkedin: image {image} still {status} after {self.image_wait:g}s"
                )
            time.sleep(self.poll_interval)

    def _trusted(self, url: str) -> bool:
        """Send the token only to LinkedIn (or to the configured API host)."""
        host = (urlsplit(url).hostname or "").lower()
        return host == urlsplit(self.api_base).hostname or host.endswith(".linkedin.com")

    def _secret(self) -> str:
        if self._token is None:
            self._token = self.ctx.secret("access_token")
        return self._token

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        posting: bool = False,
    ) -> requests.Response:
        """One REST call; a GET is a read (a 403 there is a missing scope, not auth)."""
        all_headers = {
            "Authorization": f"Bearer {self._secret()}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
            "User-Agent": "quotecast",
            **(headers or {}),
        }
        try:
            response = self.session.request(
                method,
                self.api_base + path,
                json=json,
                headers=all_headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if posting and maybe_sent(exc):
                raise AmbiguousError(
                    f"linkedin: connection lost ({kind}) while {what}; it may have been posted"
                ) from None
            raise TransientError(f"linkedin: connection failed ({kind}) while {what}") from None
        if response.status_code >= 300:
            raise self._error(response, what, read=method == "GET")
        return response

    def _error(self, response: requests.Response, what: str, read: bool = False) -> PublishError:
        status = response.status_code
        body = _json(response)
        message = short(
            scrub(str(body.get("message") or response.reason or ""), [self._token or ""])
        )
        codes = _codes(body)
        code = codes[0] if codes else ""
        detail = f"{status}{f' {code}' if code else ''}: {message or 'no message'}"
        env = secret_env_name(self.ctx.name, "access_token")
        if status == 426 or "NONEXISTENT_VERSION" in codes:
            # a version that is not (or no longer) active answers 426 NONEXISTENT_VERSION on
            # every call: no post of this target can succeed until the option changes
            return TargetBlockedError(
                f"linkedin: target {self.ctx.name!r}: LinkedIn refuses API version "
                f"{self.version} ({detail}); set options.linkedin_version to an active "
                f"version (quotecast's default is {DEFAULT_VERSION}; see "
                "https://learn.microsoft.com/linkedin/marketing/versioning)"
            )
        if status == 403 and read:
            # a read the token's scopes do not allow says nothing about the credential
            return _ScopeDenied(
                f"linkedin: target {self.ctx.name!r}: the token's scopes do not allow "
                f"{what} ({detail})"
            )
        if status in (401, 403):
            return AuthError(
                f"linkedin: target {self.ctx.name!r}: access refused ({detail}) while {what}; "
                f"check the token's scopes and expiry, then set {env}",
                credential=env,
            )
        if status == 429:
            wait = retry_after(response.headers)
            when = f"; retry in {wait:.0f}s" if wait is not None else ""
            return RateLimitedError(f"linkedin: rate limited ({detail}) while {what}{when}", wait)
        if status == 422 and ("DUPLICATE_POST" in codes or "duplicate" in message.lower()):
            # the real answer nests the code in errorDetails.inputErrors and names the
            # existing post in the message ("Content is a duplicate of urn:li:share:…")
            found = _URN.search(str(body.get("message") or ""))
            if found:
                return _Duplicate(f"linkedin: LinkedIn reports a duplicate ({detail})", found[0])
            return DuplicateError(f"linkedin: LinkedIn reports a duplicate ({detail})")
        if status == 422 and _NOT_READY.search(message):
            return _NotReady(f"linkedin: LinkedIn says the image is not ready ({detail})")
        if status >= 500 or status == 408:
            return TransientError(f"linkedin: server error ({detail}) while {what}")
        return PermanentError(f"linkedin: refused ({detail}) while {what}")


class _Duplicate(DuplicateError):
    """A duplicate whose existing post LinkedIn named."""

    def __init__(self, message: str, urn: str) -> None:
        super().__init__(message)
        self.urn = urn


class _ScopeDenied(PermanentError):
    """A read (GET) the token's scopes do not allow: not a refused credential."""


class _NotReady(PermanentError):
    """The post named an image LinkedIn has not finished processing (nothing was posted)."""


_NOT_READY = re.compile(r"(image|media)\b.*\b(not (yet )?(available|ready)|processing)", re.I)


def _codes(body: dict[str, Any]) -> list[str]:
    """Error codes of a LinkedIn answer: top level, then errorDetails.inputErrors[].code."""
    out = [str(body[k]) for k in ("code", "serviceErrorCode") if body.get(k)]
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, dict) and err.get("code"):
            out.append(str(err["code"]))
    return out


def version_warning(version: str, today: date) -> str | None:
    """A warning when `version`'s documented sunset is within VERSION_WARN_DAYS (or past),
    or when LinkedIn's pages do not list it; None when it is safely active."""
    sunset = VERSIONS.get(version)
    if sunset is None:
        newest = max(VERSIONS)
        if re.fullmatch(r"20\d{4}", version) and version > newest:
            return (  # released after this table was written: say so, do not cry wolf
                f"LinkedIn-Version {version} is newer than the versions quotecast knows "
                f"(up to {newest}); check it against learn.microsoft.com/linkedin/marketing/"
                "versioning (an unreleased version answers 426)"
            )
        return (
            f"LinkedIn-Version {version} is not a version LinkedIn documents "
            f"({', '.join(v for v in sorted(VERSIONS) if VERSIONS[v] >= today) or 'none'} "
            f"are active today); LinkedIn answers 426 to a retired or unknown version"
        )
    days = (sunset - today).days
    if days < 0:
        return f"LinkedIn-Version {version} was retired on {sunset:%Y-%m-%d}; LinkedIn answers 426"
    if days <= VERSION_WARN_DAYS:
        return (
            f"LinkedIn-Version {version} is retired on {sunset:%Y-%m-%d} ({days} days); "
            f"move options.linkedin_version to a newer one (e.g. {DEFAULT_VERSION})"
        )
    return None


def post_url(urn: str) -> str:
    """The public address of a post (share or ugcPost URN)."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json() if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = ["DEFAULT_VERSION", "LinkedInPublisher", "little", "post_url", "version_warning"]
