"""A small Graph API client (graph.facebook.com, graph.instagram.com, graph.threads.net).

Why not an SDK: Meta ships none for Python that covers publishing; the Graph API is plain
HTTPS with one error shape, so a session plus one mapping of error codes onto our error
taxonomy is all three adapters need. The token travels in the Authorization header, never
in a URL, so urllib3's DEBUG request lines cannot show it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TargetBlockedError,
    TargetContext,
    TokenInfo,
    TransientError,
    secret_env_name,
)
from pipeline.publishers.net import maybe_sent, retry_after, scrub, short

log = logging.getLogger(__name__)

#: application, user, page and custom rate limits (Graph API "rate limiting" codes)
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
#: "try again" answers: unknown/temporary errors and Instagram's server-side hiccups
TRANSIENT_CODES = frozenset({1, 2, -1, -2})
TRANSIENT_SUBCODES = frozenset({2207001, 2207003, 2207008, 2207020, 2207027, 2207032})
#: Instagram's "you reached the maximum number of posts" (code 9)
QUOTA_SUBCODE = 2207042
#: how long a quota refusal that names no wait defers the post (the quota is a rolling 24 h
#: window; the next try reads content_publishing_limit first and waits exactly as it says)
QUOTA_WAIT = 3600.0
#: Meta could not download the image_url
FETCH_CODE, FETCH_SUBCODE = 9004, 2207052
#: code 4 with this subcode is not a rate limit: Instagram restricted the account's activity
#: as spam ("We restrict certain activity to protect our community", Instagram Platform
#: error codes reference, developers.facebook.com/docs/instagram-platform/reference/
#: error-codes). Retrying re-publishes on a flagged account: stop the target instead.
SPAM_CODE, SPAM_SUBCODE = 4, 2207051
#: code 368 / subcode 1390008: "We limit how often you can post … You can try again later"
#: (Facebook "posting too fast"). Meta's error-handling guide says to wait and retry code
#: 368; it names no time, so the post waits this long (Postiz retries it too, PR #2068).
TOO_FAST_CODE, TOO_FAST_SUBCODE = 368, 1390008
TOO_FAST_WAIT = 600.0


class GraphClient:
    """One target's session: JSON in, dict out, every failure as a PublishError."""

    def __init__(self, ctx: TargetContext, label: str, default_base: str) -> None:
        self.ctx = ctx
        self.label = label
        self.base = str(ctx.options.get("api_base") or default_base).rstrip("/")
        self.timeout = float(ctx.options.get("request_timeout", 30.0))
        self.session = requests.Session()
        self._token: str | None = None

    @property
    def env_name(self) -> str:
        return secret_env_name(self.ctx.name, "access_token")

    def token(self) -> str:
        if self._token is None:
            self._token = self.ctx.secret("access_token")
        return self._token

    def get(self, path: str, what: str, **params: Any) -> dict[str, Any]:
        return self.call("GET", path, what, params=params)

    def post(
        self,
        path: str,
        what: str,
        data: Mapping[str, Any],
        *,
        files: Mapping[str, Any] | None = None,
        publishing: bool = False,
        image_url: str | None = None,
    ) -> dict[str, Any]:
        return self.call(
            "POST", path, what, data=data, files=files, publishing=publishing, image_url=image_url
        )

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        publishing: bool = False,
        image_url: str | None = None,
    ) -> dict[str, Any]:
        """One request. `publishing`: a lost answer may mean the post went out (ambiguous)."""
        headers = {"Authorization": f"Bearer {self.token()}", "User-Agent": "quotecast"}
        url = f"{self.base}/{path.lstrip('/')}"
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                files=files,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            kind = type(exc).__name__
            if publishing and maybe_sent(exc):
                raise AmbiguousError(
                    f"{self.label}: connection lost ({kind}) while {what}; "
                    "it may have been published"
                ) from None
            raise TransientError(f"{self.label}: connection failed ({kind}) while {what}") from None
        try:
            body: Any = response.json() if response.content else {}
        except ValueError:
            body = None
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            raise self.error(response.status_code, body, response.headers, what, image_url)
        if not isinstance(body, dict):
            if publishing:
                raise AmbiguousError(f"{self.label}: unreadable answer while {what}")
            raise TransientError(f"{self.label}: unreadable answer while {what}")
        return body

    def error(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str],
        what: str,
        image_url: str | None = None,
    ) -> PublishError:
        """Map a Graph error answer onto the taxonomy; the message names what to do."""
        err = body.get("error") if isinstance(body, dict) else None
        label, name, env = self.label, self.ctx.name, self.env_name
        if not isinstance(err, dict):
            return self._by_status(status, headers, what)
        code = _int(err.get("code"))
        sub = _int(err.get("error_subcode"))
        text = err.get("error_user_msg") or err.get("message") or "no message"
        detail = (
            f"code {code}{f'/{sub}' if sub else ''}: {short(scrub(str(text), [self._token or '']))}"
        )
        if code in (190, 102) or (status == 401 and code == 0):
            return AuthError(
                f"{label}: target {name!r}: the access token was refused ({detail}) while {what}; "
                f"create a new long-lived token and set {env}",
                credential=env,
            )
        if code == SPAM_CODE and sub == SPAM_SUBCODE:
            return TargetBlockedError(
                f"{label}: target {name!r}: Meta restricted this account's activity as spam "
                f"({detail}) while {what}; retrying would publish on a flagged account, so the "
                "target stops for this pass. Check the account in the app, then run "
                f"`quotecast retry --target {name}`"
            )
        if code == TOO_FAST_CODE and sub == TOO_FAST_SUBCODE:
            pause = retry_after(headers) or TOO_FAST_WAIT
            return RateLimitedError(
                f"{label}: Meta says the account is posting too fast ({detail}) while {what}; "
                f"retry in {pause:.0f}s",
                pause,
            )
        if code == 10 or 200 <= code <= 299:
            return AuthError(
                f"{label}: target {name!r}: the access token lacks a permission ({detail}) "
                f"while {what}; grant it to the app and set {env}",
                credential=env,
            )
        if (
            code in RATE_LIMIT_CODES
            or 80001 <= code <= 80014
            or sub == QUOTA_SUBCODE
            or status == 429
        ):
            wait = retry_after(headers) or _usage_wait(headers)
            if wait is None and sub == QUOTA_SUBCODE:
                wait = QUOTA_WAIT  # a used-up quota waits; it never fails the post
            when = f"; retry in {wait:.0f}s" if wait is not None else ""
            return RateLimitedError(f"{label}: rate limited ({detail}) while {what}{when}", wait)
        if code == FETCH_CODE or sub == FETCH_SUBCODE:
            return PermanentError(
                f"{label}: Meta could not fetch the image at {image_url or 'the image URL'} "
                f"({detail}); it must be publicly reachable"
            )
        if code in TRANSIENT_CODES or sub in TRANSIENT_SUBCODES or err.get("is_transient"):
            where = f" ({image_url})" if image_url and sub == 2207003 else ""
            return TransientError(f"{label}: temporary error ({detail}) while {what}{where}")
        if status >= 500:
            return TransientError(f"{label}: server error {status} ({detail}) while {what}")
        return PermanentError(f"{label}: refused ({detail}) while {what}")

    def token_expiry(self) -> TokenInfo:
        """GET /debug_token for the target's own token (Graph API reference, "Debug Token":
        data.expires_at in epoch seconds, 0 = never; data.is_valid)."""
        body = self.get("debug_token", "reading the token's expiry", input_token=self.token())
        raw = body.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if data.get("is_valid") is False:
            raise AuthError(
                f"{self.label}: target {self.ctx.name!r}: Meta says the access token is no "
                f"longer valid; create a new long-lived token and set {self.env_name}",
                credential=self.env_name,
            )
        expires = _int(data.get("expires_at"))
        when = datetime.fromtimestamp(expires, UTC) if expires > 0 else None
        scopes = data.get("scopes")
        note = f"{data.get('type') or 'token'}; scopes: " + (
            ",".join(str(x) for x in scopes) if isinstance(scopes, list) else "?"
        )
        return TokenInfo(when, note)

    def _by_status(self, status: int, headers: Mapping[str, str], what: str) -> PublishError:
        if status == 429:
            wait = retry_after(headers)
            when = f"; retry in {wait:.0f}s" if wait is not None else ""
            return RateLimitedError(f"{self.label}: rate limited (429) while {what}{when}", wait)
        if status >= 500 or status == 408:
            return TransientError(f"{self.label}: server error {status} while {what}")
        if status in (401, 403):
            return AuthError(
                f"{self.label}: target {self.ctx.name!r}: refused ({status}) while {what}; "
                f"check {self.env_name}",
                credential=self.env_name,
            )
        return PermanentError(f"{self.label}: refused with HTTP {status} while {what}")

    def close(self) -> None:
        self.session.close()


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _usage_wait(headers: Mapping[str, str]) -> float | None:
    """Minutes until access returns, from X-Business-Use-Case-Usage, as seconds."""
    raw = headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    waits = [
        float(entry.get("estimated_time_to_regain_access") or 0)
        for entries in (usage.values() if isinstance(usage, dict) else [])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]
    return max(waits) * 60 if waits and max(waits) > 0 else None


__all__ = ["GraphClient"]
