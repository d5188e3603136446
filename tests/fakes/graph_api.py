"""Fake of the Graph API endpoints the Instagram and Facebook adapters use (documented shapes).

Instagram (Content Publishing):
- POST /{v}/{ig-user}/media  image_url, caption, alt_text, media_type=STORIES -> {"id"}
  The fake really downloads image_url (like Meta): unreachable, not 200 or not an image
  -> 400 code 9004 / subcode 2207052 "The media could not be fetched from this uri".
- GET  /{v}/{container}?fields=status_code,status -> IN_PROGRESS for `processing_polls`
  GETs, then FINISHED, or ERROR with the subcode in `status` when `container_error` is set.
- POST /{v}/{ig-user}/media_publish creation_id -> {"id": media id}; not FINISHED ->
  code 9007/2207027; quota used up -> code 9/2207042; a container publishes at most once.
- GET  /{v}/{ig-user}/content_publishing_limit -> {"data":[{"quota_usage","config"}]}
- GET  /{v}/{ig-user}/media | /stories -> {"data": [...newest first]}
- GET  /{v}/{media}?fields=... -> id, permalink, timestamp, caption, media_product_type
Facebook Pages:
- POST /{v}/{page}/photos  multipart source (or url), message, published, alt_text_custom
  -> {"id": photo, "post_id": "page_n"} (published) or {"id": photo} (published=false)
- POST /{v}/{page}/photo_stories photo_id -> {"success": true, "post_id"}
- GET  /{v}/{page}/posts, /{page}/stories -> {"data": [...]}; GET /{v}/{post} -> permalink_url

- GET  /{v}/debug_token?input_token=… -> {"data": {"type", "is_valid", "expires_at" (epoch s,
  0 = never), "scopes"}} (Graph API reference, "Debug Token")

Every call needs the token (Authorization: Bearer, or access_token); `token_expired`
answers code 190 / subcode 463 as Meta does for an expired long-lived token.
Strict like Meta where it hurts:
- the image is fetched as Meta's crawler does: a GET with the facebookexternalhit user agent,
  after reading the host's robots.txt — a rule that disallows facebookexternalhit fails the
  fetch with 2207052, whatever a browser would see (one only against meta-externalagent,
  Meta's AI-training crawler, does not block the media fetch)
  (developers.facebook.com/docs/sharing/webmasters/web-crawlers);
- `spam_restricted`: media_publish answers code 4 / subcode 2207051 ("We restrict certain
  activity to protect our community", Instagram Platform error codes);
- `too_fast`: that many Page photo posts answer code 368 / subcode 1390008 ("We limit how
  often you can post…", the body Postiz quotes from production in PR #2068).
"""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main

VERSION = "v24.0"
#: the user agent of Meta's link and media fetcher (Meta "Web crawlers" page)
CRAWLER_AGENT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
IG_USER = "17841400000000001"
PAGE_ID = "100000000000001"


@dataclass
class Container:
    id: str
    owner: str
    image_url: str
    image: bytes
    caption: str | None
    alt_text: str | None
    media_type: str
    polls_left: int
    error: str | None
    status: str = "IN_PROGRESS"
    media_id: str | None = None


@dataclass
class Media:
    """A published Instagram media or Threads post."""

    id: str
    container: str
    text: str | None
    alt_text: str | None
    product: str  # FEED | STORY (Instagram), THREADS
    image: bytes
    image_url: str
    timestamp: datetime
    permalink: str


@dataclass
class PagePost:
    id: str
    photo_id: str
    message: str | None
    alt_text: str | None
    image: bytes
    kind: str  # feed | story
    created: datetime
    permalink: str


@dataclass
class Photo:
    id: str
    image: bytes
    published: bool
    used_by_story: bool = False


def graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(
    status: int,
    code: int,
    message: str,
    subcode: int | None = None,
    user_msg: str | None = None,
    transient: bool = False,
) -> Response:
    """Meta's error body: {"error": {message, type, code, error_subcode, fbtrace_id, ...}}."""
    err: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        err["error_subcode"] = subcode
    if user_msg is not None:
        err["error_user_msg"] = user_msg
    return Response(status, {"error": err}, {"WWW-Authenticate": 'OAuth "Facebook Platform"'})


class MetaFake(FakeServer):
    """What the Graph and Threads fakes share: tokens, ids, containers, fetching image_url."""

    accepted_images: tuple[str, ...] = ("image/jpeg",)
    token_type = "PAGE"
    token_scopes: tuple[str, ...] = ("pages_manage_posts", "instagram_content_publish")

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.token_expired = False
        self.processing_polls = 0
        self.container_error: str | None = None
        self.quota_total = 100
        self.quota_used = 0
        self.containers: dict[str, Container] = {}
        self.published: list[Media] = []
        self.double_publish_attempts = 0
        self.spam_restricted = False
        self.too_fast = 0
        self.token_expires_at = int(time.time()) + 60 * 86400
        self._ids = itertools.count(18_000_000_000_000_001)
        self._id_lock = threading.Lock()
        super().__init__(host, port)

    def debug_token(self, request: Request) -> Response:
        given = request.query.get("input_token", [""])[0]
        data = {
            "app_id": "1234567890",
            "type": self.token_type,
            "application": "quotecast",
            "is_valid": given == self.token and not self.token_expired,
            "expires_at": self.token_expires_at,
            "data_access_expires_at": self.token_expires_at + 30 * 86400,
            "scopes": list(self.token_scopes),
        }
        return Response(200, {"data": data})

    # -- helpers -------------------------------------------------------------------------
    def next_id(self) -> str:
        with self._id_lock:
            return str(next(self._ids))

    @staticmethod
    def params(request: Request) -> dict[str, str]:
        """Query, urlencoded or multipart text fields as one flat dict."""
        found = {k: v[-1] for k, v in request.query.items()}
        ctype = request.header("Content-Type")
        if ctype.startswith("multipart/"):
            for part in request.multipart().values():
                if part.filename is None:
                    found[part.name] = part.text
        elif request.body:
            found.update({k: v[-1] for k, v in parse_qs(request.body.decode()).items()})
        return found

    def authed(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            given = request.header("Authorization").removeprefix("Bearer ").strip()
            given = given or self.params(request).get("access_token", "")
            if given != self.token:
                return graph_error(
                    400, 190, "Invalid OAuth access token - Cannot parse access token"
                )
            if self.token_expired:
                return graph_error(
                    400,
                    190,
                    "Error validating access token: Session has expired on Tuesday, "
                    "24-Nov-26 10:00:00 PST. The current time is Wednesday, 25-Nov-26.",
                    subcode=463,
                )
            return handler(request)

        return wrapped

    def fetch(self, url: str) -> tuple[bytes | None, str]:
        """Download image_url as Meta's crawler would: (bytes, "") or (None, why)."""
        parts = urlsplit(url)
        robots = urllib.robotparser.RobotFileParser(f"{parts.scheme}://{parts.netloc}/robots.txt")
        try:
            robots.read()  # a missing robots.txt (404) allows everything
            allowed = robots.can_fetch("facebookexternalhit", url)
        except (urllib.error.URLError, OSError, ValueError):
            allowed = True
        if not allowed:
            return None, "robots.txt disallows facebookexternalhit"
        request = urllib.request.Request(url, headers={"User-Agent": CRAWLER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                ctype = answer.headers.get("Content-Type", "")
                data = answer.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return None, f"download failed: {exc}"
        if not ctype.startswith("image/"):
            return None, f"not an image: {ctype}"
        if ctype.split(";")[0] not in self.accepted_images:
            return None, f"unsupported format: {ctype}"
        return data, ""

    def fetch_failed(self, url: str) -> Response:
        return graph_error(
            400,
            9004,
            "Only photo or video can be accepted as media type.",
            subcode=2207052,
            user_msg=f"The media could not be fetched from this uri: {url}",
        )

    def new_container(
        self, owner: str, url: str, image: bytes, text: str | None, alt: str | None, kind: str
    ) -> Container:
        item = Container(
            id=self.next_id(),
            owner=owner,
            image_url=url,
            image=image,
            caption=text,
            alt_text=alt,
            media_type=kind,
            polls_left=self.processing_polls,
            error=self.container_error,
        )
        with self.lock:
            self.containers[item.id] = item
        return item

    def advance(self, item: Container) -> None:
        """One status read: processing ends after `polls_left` reads."""
        if item.status != "IN_PROGRESS":
            return
        if item.polls_left > 0:
            item.polls_left -= 1
            return
        item.status = "ERROR" if item.error else "FINISHED"

    def publish_container(self, owner: str, request: Request, product: str) -> Response:
        creation = self.params(request).get("creation_id", "")
        with self.lock:
            item = self.containers.get(creation)
            if item is None or item.owner != owner:
                return graph_error(400, 100, "Invalid parameter", subcode=33)
            if item.status == "PUBLISHED":
                self.double_publish_attempts += 1
                return graph_error(400, 9007, "The container has already been published")
            if self.spam_restricted:
                return graph_error(
                    400,
                    4,
                    "Application request limit reached",
                    subcode=2207051,
                    user_msg="We restrict certain activity to protect our community. Tell us "
                    "if you think we made a mistake.",
                )
            if self.quota_used >= self.quota_total:
                return graph_error(
                    400,
                    9,
                    "Application request limit reached",
                    subcode=2207042,
                    user_msg="You reached maximum number of posts that is allowed to be "
                    "published by Content Publishing API.",
                )
            if item.status != "FINISHED":
                return graph_error(
                    400,
                    9007,
                    "Media ID is not available",
                    subcode=2207027,
                    user_msg="The media is not ready for publishing, please wait for a moment",
                )
            media = Media(
                id=self.next_id(),
                container=item.id,
                text=item.caption,
                alt_text=item.alt_text,
                product=product if item.media_type != "STORIES" else "STORY",
                image=item.image,
                image_url=item.image_url,
                timestamp=datetime.now(UTC).replace(microsecond=0),
                permalink="",
            )
            media.permalink = self.permalink(media)
            item.status, item.media_id = "PUBLISHED", media.id
            self.published.append(media)
            self.quota_used += 1
        return Response(200, {"id": media.id})

    def permalink(self, media: Media) -> str:
        return f"https://www.instagram.com/p/{media.id}/"

    def quota_body(self, window: int = 86400) -> dict[str, Any]:
        return {
            "data": [
                {
                    "quota_usage": self.quota_used,
                    "config": {"quota_total": self.quota_total, "quota_duration": window},
                }
            ]
        }

    @staticmethod
    def pick(record: dict[str, Any], request: Request) -> dict[str, Any]:
        fields = request.query.get("fields", [""])[0]
        if not fields:
            return record
        wanted = {"id", *fields.split(",")}
        return {k: v for k, v in record.items() if k in wanted}


class FakeGraph(MetaFake):
    """graph.facebook.com for one Instagram account and one Facebook Page."""

    def __init__(self, token: str = "fake-graph-token", host: str = "127.0.0.1", port: int = 0):
        self.ig_user = IG_USER
        self.page_id = PAGE_ID
        self.photos: dict[str, Photo] = {}
        self.page_posts: list[PagePost] = []
        super().__init__(token, host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        a = self.authed
        return [
            ("POST /:version/:owner/media", a(self.create_container)),
            ("POST /:version/:owner/media_publish", a(self.media_publish)),
            ("GET /:version/:owner/media", a(self.list_media)),
            ("GET /:version/:owner/stories", a(self.list_stories)),
            ("GET /:version/:owner/content_publishing_limit", a(self.publishing_limit)),
            ("POST /:version/:owner/photos", a(self.page_photo)),
            ("POST /:version/:owner/photo_stories", a(self.photo_story)),
            ("GET /:version/:owner/posts", a(self.list_page_posts)),
            ("GET /:version/debug_token", a(self.debug_token)),
            ("GET /:version/:node", a(self.node)),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "published": [
                    {"id": m.id, "container": m.container, "product": m.product}
                    for m in self.published
                ],
                "containers": {c.id: c.status for c in self.containers.values()},
                "page_posts": [{"id": p.id, "kind": p.kind} for p in self.page_posts],
            }

    @property
    def stories(self) -> list[Media]:
        return [m for m in self.published if m.product == "STORY"]

    def _owner(self, request: Request, wanted: str) -> Response | None:
        if request.params["owner"] != wanted:
            return graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{request.params['owner']}' does "
                "not exist, cannot be loaded due to missing permissions, or does not support "
                "this operation",
                subcode=33,
            )
        return None

    # -- Instagram -------------------------------------------------------------------------
    def create_container(self, request: Request) -> Response:
        if (refused := self._owner(request, self.ig_user)) is not None:
            return refused
        p = self.params(request)
        url = p.get("image_url")
        if not url:
            return graph_error(400, 100, "The parameter image_url is required")
        image, _ = self.fetch(url)
        if image is None:
            return self.fetch_failed(url)
        kind = p.get("media_type", "IMAGE")
        if kind == "STORIES" and "caption" in p:
            return graph_error(400, 100, "Stories do not take a caption")
        if len(p.get("caption", "")) > 2200:
            return graph_error(400, 100, "The caption is too long", subcode=2207010)
        item = self.new_container(
            self.ig_user, url, image, p.get("caption"), p.get("alt_text"), kind
        )
        return Response(200, {"id": item.id})

    def media_publish(self, request: Request) -> Response:
        if (refused := self._owner(request, self.ig_user)) is not None:
            return refused
        return self.publish_container(self.ig_user, request, "FEED")

    def media_json(self, media: Media) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": media.id,
            "media_type": "IMAGE",
            "media_product_type": media.product,
            "permalink": media.permalink,
            "timestamp": graph_time(media.timestamp),
        }
        if media.product != "STORY":
            body["caption"] = media.text or ""
        return body

    def list_media(self, request: Request) -> Response:
        if (refused := self._owner(request, self.ig_user)) is not None:
            return refused
        limit = int(request.query.get("limit", ["25"])[0])
        with self.lock:
            feed = [m for m in reversed(self.published) if m.product == "FEED"][:limit]
            return Response(200, {"data": [self.pick(self.media_json(m), request) for m in feed]})

    def list_stories(self, request: Request) -> Response:
        owner = request.params["owner"]
        with self.lock:
            if owner == self.ig_user:
                items = [self.pick(self.media_json(m), request) for m in reversed(self.stories)]
                return Response(200, {"data": items})
            if owner == self.page_id:
                stories = [p for p in reversed(self.page_posts) if p.kind == "story"]
                return Response(200, {"data": [self.story_json(p) for p in stories]})
        return self._owner(request, self.ig_user) or Response(404)

    def publishing_limit(self, request: Request) -> Response:
        if (refused := self._owner(request, self.ig_user)) is not None:
            return refused
        return Response(200, self.quota_body())

    def node(self, request: Request) -> Response:
        node = request.params["node"]
        with self.lock:
            if node in self.containers:
                item = self.containers[node]
                self.advance(item)
                body: dict[str, Any] = {"id": item.id, "status_code": item.status}
                body["status"] = (
                    item.error if item.status == "ERROR" and item.error else item.status.title()
                )
                return Response(200, self.pick(body, request))
            for media in self.published:
                if media.id == node:
                    return Response(200, self.pick(self.media_json(media), request))
            for post in self.page_posts:
                if post.id == node:
                    body = {
                        "id": post.id,
                        "message": post.message,
                        "permalink_url": post.permalink,
                        "created_time": graph_time(post.created),
                    }
                    return Response(200, self.pick(body, request))
        return graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{node}' does not exist",
            subcode=33,
        )

    # -- Facebook Pages --------------------------------------------------------------------
    def page_photo(self, request: Request) -> Response:
        if (refused := self._owner(request, self.page_id)) is not None:
            return refused
        with self.lock:
            if self.too_fast > 0:
                self.too_fast -= 1
                return graph_error(
                    400,
                    368,
                    "We limit how often you can post, comment or do other things in a given "
                    "amount of time in order to help protect the community from spam. You can "
                    "try again later.",
                    subcode=1390008,
                )
        p = self.params(request)
        image: bytes | None = None
        if request.header("Content-Type").startswith("multipart/"):
            source = request.multipart().get("source")
            image = source.data if source is not None else None
        if image is None and p.get("url"):
            image, _ = self.fetch(p["url"])
            if image is None:
                return self.fetch_failed(p["url"])
        if not image:
            return graph_error(400, 324, "Requires upload file")
        published = p.get("published", "true") != "false"
        photo = Photo(self.next_id(), image, published)
        with self.lock:
            self.photos[photo.id] = photo
            if not published:
                return Response(200, {"id": photo.id})
            post = self._page_post(photo, p.get("message"), p.get("alt_text_custom"), "feed")
        return Response(200, {"id": photo.id, "post_id": post.id})

    def _page_post(self, photo: Photo, message: str | None, alt: str | None, kind: str) -> PagePost:
        post_id = f"{self.page_id}_{self.next_id()}"
        link = (
            f"https://www.facebook.com/stories/{self.page_id}/{post_id}/"
            if kind == "story"
            else f"https://www.facebook.com/{self.page_id}/posts/{post_id.split('_')[1]}"
        )
        post = PagePost(post_id, photo.id, message, alt, photo.image, kind, datetime.now(UTC), link)
        self.page_posts.append(post)
        return post

    def photo_story(self, request: Request) -> Response:
        if (refused := self._owner(request, self.page_id)) is not None:
            return refused
        photo_id = self.params(request).get("photo_id", "")
        with self.lock:
            photo = self.photos.get(photo_id)
            if photo is None or photo.published or photo.used_by_story:
                return graph_error(
                    400, 100, "Invalid parameter: photo_id must be an unpublished photo"
                )
            photo.used_by_story = True
            post = self._page_post(photo, None, None, "story")
        return Response(200, {"success": True, "post_id": post.id})

    def story_json(self, post: PagePost) -> dict[str, Any]:
        return {
            "post_id": post.id,
            "status": "PUBLISHED",
            "creation_time": str(int(post.created.timestamp())),
            "media_type": "photo",
            "media_id": post.photo_id,
            "url": post.permalink,
        }

    def list_page_posts(self, request: Request) -> Response:
        if (refused := self._owner(request, self.page_id)) is not None:
            return refused
        with self.lock:
            feed = [p for p in reversed(self.page_posts) if p.kind == "feed"]
            data = [
                self.pick(
                    {
                        "id": p.id,
                        "message": p.message,
                        "permalink_url": p.permalink,
                        "created_time": graph_time(p.created),
                    },
                    request,
                )
                for p in feed
            ]
        return Response(200, {"data": data})


if __name__ == "__main__":
    serve_main(lambda port: FakeGraph(port=port))
