"""Fake of LinkedIn's versioned REST endpoints for image posts (documented shapes).

- POST /rest/images?action=initializeUpload {"initializeUploadRequest": {"owner"}}
  -> {"value": {"uploadUrlExpiresAt", "uploadUrl", "image": "urn:li:image:…"}}
- PUT  {uploadUrl}  raw bytes (Bearer token) -> 201; the image is then PROCESSING for
  `processing_polls` reads of GET /rest/images/{urn}, then AVAILABLE.
- POST /rest/posts {author, commentary, visibility, distribution, content.media{id, altText},
  lifecycleState} -> 201, empty body, header x-restli-id: urn:li:share:…; the same author
  and commentary twice -> 422 with the code nested in errorDetails.inputErrors, as LinkedIn
  really answers (quoted in github.com/Arisamiga/Linkedin-RSS/issues/5):
  {"errorDetailType": "com.linkedin.common.error.BadRequest", "message": "…Content is a
  duplicate of urn:li:share:…", "errorDetails": {"inputErrors": [{"description": "Duplicate
  post is detected", "input": {}, "code": "DUPLICATE_POST"}]}, "status": 422}
- GET  /rest/posts?q=author&author=…  (X-RestLi-Method: FINDER) -> {"elements": [...]}
- POST /oauth/v2/introspectToken  form token, client_id, client_secret -> {"active", "status",
  "expires_at" (epoch s), "scope", …}  (learn.microsoft.com/linkedin/shared/authentication/
  token-introspection)
Every /rest call needs `X-Restli-Protocol-Version: 2.0.0` and a `LinkedIn-Version` that is
active: `versions` lists them (LinkedIn's migrations page); a retired or unknown one answers
426 NONEXISTENT_VERSION. Scopes are per token (`scopes`): posting as a person needs
w_member_social, as an organisation w_organization_social; reading /rest/images and the
author finder need r_member_social (persons) or r_organization_social (organisations) —
a member token with only w_member_social gets 403 ACCESS_DENIED there, as Postiz's
provider notes (it never polls images of person authors).
`token_revoked` answers 401 REVOKED_ACCESS_TOKEN.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main

PERSON = "urn:li:person:Ab12Cd34"
ORGANIZATION = "urn:li:organization:5583111"
#: the versions LinkedIn's migrations page lists as active (see pipeline/publishers/linkedin.py)
ACTIVE_VERSIONS = ("202601", "202602", "202603")
MEMBER_SCOPES = frozenset({"openid", "profile", "w_member_social"})
ORG_SCOPES = frozenset({"w_organization_social", "r_organization_social", "rw_organization_admin"})


@dataclass
class LinkedInImage:
    urn: str
    owner: str
    upload_token: str
    data: bytes | None = None
    polls_left: int = 0


@dataclass
class LinkedInPost:
    urn: str
    author: str
    commentary: str
    image: str
    alt_text: str | None
    data: bytes
    body: dict[str, Any]
    created_ms: int


def li_error(status: int, code: str, message: str, service_code: int | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return Response(status, body)


class FakeLinkedIn(FakeServer):
    """One member who also administers one organisation."""

    def __init__(
        self, token: str = "fake-linkedin-token", host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.token = token
        self.token_revoked = False
        #: what the token may do; by default both a member's and an organisation admin's
        self.scopes: set[str] = set(MEMBER_SCOPES | ORG_SCOPES)
        self.versions: set[str] = set(ACTIVE_VERSIONS)
        self.client_id, self.client_secret = "fake-client-id", "fake-client-secret"
        self.token_expires_at = int(time.time()) + 60 * 86400
        self.processing_polls = 0
        self.authors = {PERSON, ORGANIZATION}
        self.images: dict[str, LinkedInImage] = {}
        self.posts: list[LinkedInPost] = []
        self._ids = itertools.count(7_300_000_000_000_000_001)
        self._id_lock = threading.Lock()
        super().__init__(host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        return [
            ("POST /rest/images", self._rest(self.initialize_upload)),
            ("PUT /dms-uploads/:upload", self._authed(self.upload)),
            ("GET /rest/images/:urn", self._rest(self.get_image)),
            ("POST /rest/posts", self._rest(self.create_post)),
            ("GET /rest/posts", self._rest(self.find_posts)),
            ("POST /oauth/v2/introspectToken", self.introspect),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"posts": [{"urn": p.urn, "commentary": p.commentary} for p in self.posts]}

    def _next(self) -> int:
        with self._id_lock:
            return next(self._ids)

    def _authed(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {self.token}":
                return li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
            if self.token_revoked:
                return li_error(
                    401,
                    "REVOKED_ACCESS_TOKEN",
                    "The token used in the request has been revoked by the user",
                    65601,
                )
            return handler(request)

        return wrapped

    def _rest(self, handler: Handler) -> Handler:
        def versioned(request: Request) -> Response:
            version = request.header("LinkedIn-Version")
            if not re.fullmatch(r"\d{6}", version):
                return li_error(
                    400,
                    "VERSION_MISSING",
                    "A version must be present. Please specify a version by adding the "
                    "LinkedIn-Version header.",
                )
            if version not in self.versions:
                return li_error(
                    426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
                )
            if request.header("X-Restli-Protocol-Version") != "2.0.0":
                return li_error(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 required")
            return handler(request)

        return self._authed(versioned)

    def _may(self, author: str, person: str, organization: str) -> bool:
        return (person if author.startswith("urn:li:person:") else organization) in self.scopes

    def _denied(self, what: str) -> Response:
        return li_error(403, "ACCESS_DENIED", f"Not enough permissions to access: {what}")

    # -- images ------------------------------------------------------------------------
    def initialize_upload(self, request: Request) -> Response:
        if request.query.get("action") != ["initializeUpload"]:
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported action")
        owner = ((request.json() or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner not in self.authors or not self._may(
            str(owner), "w_member_social", "w_organization_social"
        ):
            return li_error(403, "ACCESS_DENIED", f"Not enough permissions to upload as {owner}")
        n = self._next()
        image = LinkedInImage(f"urn:li:image:C4E10AQ{n}", owner, f"up{n}")
        with self.lock:
            self.images[image.urn] = image
        value = {
            "uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
            "uploadUrl": f"{self.url}/dms-uploads/{image.upload_token}?ca=vector_feedshare",
            "image": image.urn,
        }
        return Response(200, {"value": value})

    def upload(self, request: Request) -> Response:
        with self.lock:
            for image in self.images.values():
                if image.upload_token == request.params["upload"]:
                    image.data = request.body
                    image.polls_left = self.processing_polls
                    return Response(201)
        return Response(404)

    def image_status(self, image: LinkedInImage) -> str:
        if image.data is None:
            return "WAITING_UPLOAD"
        return "PROCESSING" if image.polls_left > 0 else "AVAILABLE"

    def get_image(self, request: Request) -> Response:
        urn = unquote(request.params["urn"])
        with self.lock:
            image = self.images.get(urn)
            if image is None:
                return li_error(404, "NOT_FOUND", f"Image {urn} not found")
            if not self._may(image.owner, "r_member_social", "r_organization_social"):
                return self._denied("images.GET.20260301")
            status = self.image_status(image)
            if status == "PROCESSING":
                image.polls_left -= 1
            return Response(200, {"id": urn, "owner": image.owner, "status": status})

    # -- posts -------------------------------------------------------------------------
    def create_post(self, request: Request) -> Response:
        body = request.json() or {}
        author = body.get("author")
        if author not in self.authors or not self._may(
            str(author), "w_member_social", "w_organization_social"
        ):
            return li_error(403, "ACCESS_DENIED", f"Not enough permissions to post as {author}")
        media = (body.get("content") or {}).get("media") or {}
        commentary = body.get("commentary")
        if not isinstance(commentary, str) or body.get("lifecycleState") != "PUBLISHED":
            return li_error(
                422, "UNPROCESSABLE_ENTITY", "ERROR :: /commentary :: field is required"
            )
        with self.lock:
            image = self.images.get(str(media.get("id")))
            if image is None or self.image_status(image) != "AVAILABLE" or image.data is None:
                if image is not None and image.polls_left > 0:
                    image.polls_left -= 1  # processing goes on whoever asks
                return li_error(
                    422, "UNPROCESSABLE_ENTITY", f"Image {media.get('id')} is not available yet"
                )
            for post in self.posts:
                if post.author == author and post.commentary == commentary:
                    return Response(
                        422,
                        {
                            "errorDetailType": "com.linkedin.common.error.BadRequest",
                            "message": "com.linkedin.content.common.exception."
                            f"BadRequestResponseException: Content is a duplicate of {post.urn}",
                            "errorDetails": {
                                "inputErrors": [
                                    {
                                        "description": "Duplicate post is detected",
                                        "input": {},
                                        "code": "DUPLICATE_POST",
                                    }
                                ]
                            },
                            "status": 422,
                        },
                    )
            post = LinkedInPost(
                urn=f"urn:li:share:{self._next()}",
                author=author,
                commentary=commentary,
                image=image.urn,
                alt_text=media.get("altText"),
                data=image.data,
                body=body,
                created_ms=int(time.time() * 1000),
            )
            self.posts.append(post)
        return Response(201, None, {"x-restli-id": post.urn, "x-linkedin-id": post.urn})

    def find_posts(self, request: Request) -> Response:
        if request.header("X-RestLi-Method") != "FINDER" or request.query.get("q") != ["author"]:
            return li_error(400, "ILLEGAL_ARGUMENT", "use the author finder")
        author = unquote(request.query.get("author", [""])[0])
        if not self._may(author, "r_member_social", "r_organization_social"):
            return self._denied("posts.FINDER-author.20260301")
        count = int(request.query.get("count", ["10"])[0])
        with self.lock:
            mine = [p for p in reversed(self.posts) if p.author == author][:count]
            elements = [
                {
                    "id": p.urn,
                    "author": p.author,
                    "commentary": p.commentary,
                    "visibility": "PUBLIC",
                    "lifecycleState": "PUBLISHED",
                    "content": {"media": {"id": p.image, "altText": p.alt_text}},
                    "createdAt": p.created_ms,
                    "publishedAt": p.created_ms,
                }
                for p in mine
            ]
        return Response(200, {"elements": elements, "paging": {"start": 0, "count": count}})

    def introspect(self, request: Request) -> Response:
        form = request.form()
        if (form.get("client_id") or [""])[0] != self.client_id or (
            form.get("client_secret") or [""]
        )[0] != self.client_secret:
            return Response(401, {"error": "invalid_client"})
        if (form.get("token") or [""])[0] != self.token:
            return Response(200, {"active": False, "status": "expired"})
        status = "revoked" if self.token_revoked else "active"
        return Response(
            200,
            {
                "active": not self.token_revoked,
                "client_id": self.client_id,
                "authorized_at": int(time.time()) - 86400,
                "created_at": int(time.time()) - 86400,
                "status": status,
                "expires_at": self.token_expires_at,
                "scope": ",".join(sorted(self.scopes)),
                "auth_type": "3L",
            },
        )


if __name__ == "__main__":
    serve_main(lambda port: FakeLinkedIn(port=port))
