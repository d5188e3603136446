"""LinkedIn (member or organisation) through the versioned REST API.

Three steps, each with `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`:
POST /rest/images?action=initializeUpload → PUT the card's bytes to the upload URL →
POST /rest/posts with the image id and alt text; the new post's URN comes back in the
`x-restli-id` header. The commentary is LinkedIn's "little" text format, where
`\\ | { } @ [ ] ( ) < > # * _ ~` are markup: they are escaped (unescaped, LinkedIn cuts the
post at the first one), except inside links and in #hashtags, which stay live.
`find` looks for the commentary and alt text among the author's recent posts.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import requests

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
from pipeline.publishers.net import maybe_sent, parse_time, retry_after, scrub, short

log = logging.getLogger(__name__)

DEFAULT_VERSION = "202610"
_AUTHOR = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
_KEEP = re.compile(r"https?://[^\s<>\"']+|(?<![\w#])#\w+")  # links and #hashtags
_RESERVED = re.compile(r"[\\|{}@\[\]()<>#*_~]")


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
    limits: ClassVar[Limits] = Limits(
        caption_max=3000,
        caption_counter="chars",
        image_max_bytes=8 * 1024 * 1024,
        image_mimes=("image/png", "image/jpeg"),
        alt_text_max=4086,
    )
    secret_names: ClassVar[tuple[str, ...]] = ("access_token",)
    find_is_authoritative: ClassVar[bool] = False
    retry_is_idempotent: ClassVar[bool] = False

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.api_base = str(options.get("api_base") or "https://api.linkedin.com").rstrip("/")
        self.author = str(options.get("author") or "")
        self.version = str(options.get("linkedin_version") or DEFAULT_VERSION)
        self.visibility = str(options.get("visibility") or "PUBLIC")
        self.timeout = float(options.get("request_timeout", 30.0))
        self.image_wait = float(options.get("image_wait", 30.0))
        self.poll_interval = float(options.get("poll_interval", 1.0))
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
        response = self._call("POST", "/rest/posts", "creating the post", json=body, posting=True)
        urn = response.headers.get("x-restli-id") or _json(response).get("id")
        if not urn:
            raise AmbiguousError("linkedin: the post was accepted without an x-restli-id")
        log.info("linkedin: posted %s/%s as %s", post.slug, post.target, urn)
        return Receipt(str(urn), post_url(str(urn)), datetime.now(UTC))

    def find(self, post: Post) -> Receipt | None:
        self._check_options()
        author = quote(self.author, safe="")
        response = self._call(
            "GET",
            f"/rest/posts?q=author&author={author}&count=20&sortBy=LAST_MODIFIED",
            "listing the author's recent posts",
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
        self._wait_available(str(image))
        return str(image)

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
            raise self._error(response, what)
        return response

    def _error(self, response: requests.Response, what: str) -> PublishError:
        status = response.status_code
        body = _json(response)
        message = short(
            scrub(str(body.get("message") or response.reason or ""), [self._token or ""])
        )
        code = body.get("code") or body.get("serviceErrorCode") or ""
        detail = f"{status}{f' {code}' if code else ''}: {message or 'no message'}"
        env = secret_env_name(self.ctx.name, "access_token")
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
        if status == 422 and "duplicate" in message.lower():
            return DuplicateError(f"linkedin: LinkedIn reports a duplicate ({detail})")
        if status >= 500 or status == 408:
            return TransientError(f"linkedin: server error ({detail}) while {what}")
        return PermanentError(f"linkedin: refused ({detail}) while {what}")


def post_url(urn: str) -> str:
    """The public address of a post (share or ugcPost URN)."""
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json() if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


__all__ = ["LinkedInPublisher", "little", "post_url"]
