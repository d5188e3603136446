"""Fake of the XRPC endpoints a PDS serves to quotecast, built from the lexicon shapes.

- POST com.atproto.server.createSession {identifier, password}
       -> {accessJwt, refreshJwt, handle, did, didDoc, active}; 401 AuthenticationRequired
- POST com.atproto.server.refreshSession (Bearer refresh token) -> the same shape, rotated
- GET  com.atproto.server.getSession, describeServer
- POST com.atproto.repo.uploadBlob (raw body) -> {blob: {$type, ref: {$link}, mimeType, size}}
- POST com.atproto.repo.createRecord {repo, collection, rkey?, record, validate?}
       -> {uri, cid, commit: {cid, rev}, validationStatus}; 400 InvalidRequest for a bad
       record, record key or blob; 500 InternalServerError when the rkey is already taken,
       which is what the reference PDS (0.4.x) answers
- GET  com.atproto.repo.getRecord -> {uri, cid, value}; 400 RecordNotFound
- GET  com.atproto.repo.listRecords -> {records: [{uri, cid, value}], cursor}, newest rkey first
- any other /xrpc/ method -> 501 MethodNotImplemented (there is no AppView)

Tokens are JWT-shaped; like the PDS, a missing one is 401 AuthMissing, an unknown one
400 InvalidToken and an expired one 400 ExpiredToken. Faults come from tests.fakes.server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main

X = "/xrpc/"
CREATE_SESSION = f"POST {X}com.atproto.server.createSession"
REFRESH_SESSION = f"POST {X}com.atproto.server.refreshSession"
GET_SESSION = f"GET {X}com.atproto.server.getSession"
DESCRIBE_SERVER = f"GET {X}com.atproto.server.describeServer"
UPLOAD_BLOB = f"POST {X}com.atproto.repo.uploadBlob"
CREATE_RECORD = f"POST {X}com.atproto.repo.createRecord"
GET_RECORD = f"GET {X}com.atproto.repo.getRecord"
LIST_RECORDS = f"GET {X}com.atproto.repo.listRecords"

POST_NSID = "app.bsky.feed.post"
IMAGE_MAX_BYTES = 1_000_000
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
RKEY_RE = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")


def xrpc_error(status: int, error: str, message: str = "", **headers: str) -> Response:
    """An XRPC error answer: {"error": Name, "message": text}."""
    return Response(status, {"error": error, "message": message or error}, dict(headers))


def cid_for(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256, base32): codec 0x55 raw for blobs, 0x71 dag-cbor for records."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def tid_now() -> str:
    """A TID from the clock, as a PDS makes them."""
    value = (time.time_ns() // 1000) << 10 | secrets.randbits(10)
    return "".join(TID_CHARS[(value >> (60 - 5 * i)) & 31] for i in range(13))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class StoredRecord:
    uri: str
    cid: str
    collection: str
    rkey: str
    value: dict[str, Any]

    def as_api(self) -> dict[str, Any]:
        return {"uri": self.uri, "cid": self.cid, "value": self.value}


class FakeBluesky(FakeServer):
    """One account on a fake PDS. `.records` (by at:// URI) and `.blobs` (by CID) are its repo."""

    def __init__(
        self,
        handle: str = "quotecast.test",
        password: str = "fake-app-pass-word",
        did: str = "did:plc:quotecastfake0000000000",
        access_ttl: float = 7200.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.handle, self.password, self.did = handle, password, did
        self.access_ttl = access_ttl
        self.records: dict[str, StoredRecord] = {}
        self.blobs: dict[str, tuple[str, bytes]] = {}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.refresh_tokens: set[str] = set()
        self.repo_lock = threading.Lock()  # one write at a time, like the PDS's actor store
        super().__init__(host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        return [
            (CREATE_SESSION, self.create_session),
            (REFRESH_SESSION, self.refresh_session),
            (GET_SESSION, self._authed(self.get_session)),
            (DESCRIBE_SERVER, self.describe_server),
            (UPLOAD_BLOB, self._authed(self.upload_blob)),
            (CREATE_RECORD, self._authed(self.create_record)),
            (GET_RECORD, self.get_record),
            (LIST_RECORDS, self.list_records),
            (f"GET {X}:nsid", self.not_implemented),
            (f"POST {X}:nsid", self.not_implemented),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"posts": [{"uri": r.uri, "text": r.value.get("text")} for r in self.posts()]}

    # -- helpers for tests ------------------------------------------------------------------
    def posts(self) -> list[StoredRecord]:
        """The app.bsky.feed.post records, in creation order."""
        with self.lock:
            return [r for r in self.records.values() if r.collection == POST_NSID]

    def revoke_sessions(self) -> None:
        """Forget every issued token, as after a password change."""
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def reset(self) -> None:
        """Forget records, blobs, sessions, requests and queued faults: a fresh server."""
        with self.lock:
            self.records.clear()
            self.blobs.clear()
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.requests.clear()
            self._faults.clear()

    def put(self, record: dict[str, Any], rkey: str | None = None) -> StoredRecord:
        """Store a post as another client would (a person posting by hand), unchecked."""
        key = rkey or tid_now()
        uri = f"at://{self.did}/{POST_NSID}/{key}"
        cid = cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)
        with self.lock:
            self.records[uri] = StoredRecord(uri, cid, POST_NSID, key, record)
        return self.records[uri]

    def calls(self, route: str) -> int:
        return len(self.requests_to(route))

    # -- sessions -----------------------------------------------------------------------------
    def _jwt(self, scope: str, ttl: float) -> str:
        now = int(time.time())
        header = {"typ": "at+jwt", "alg": "HS256"}
        claims = {"scope": scope, "sub": self.did, "aud": "did:web:fake.pds", "iat": now}
        claims |= {"exp": now + int(ttl), "jti": secrets.token_hex(8)}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing}.{_b64(hashlib.sha256(signing.encode()).digest())}"

    def _session(self) -> dict[str, Any]:
        access = self._jwt("com.atproto.appPass", self.access_ttl)
        refresh = self._jwt("com.atproto.refresh", 90 * 86400)
        with self.lock:
            self.access_tokens[access] = time.time() + self.access_ttl
            self.refresh_tokens.add(refresh)
        doc = {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "alsoKnownAs": [f"at://{self.handle}"],
            "verificationMethod": [],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.url,
                }
            ],
        }
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.handle,
            "did": self.did,
            "didDoc": doc,
            "active": True,
        }

    @staticmethod
    def _bearer(request: Request) -> str:
        scheme, _, token = request.header("Authorization").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def _authed(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            token = self._bearer(request)
            if not token:
                return xrpc_error(401, "AuthMissing", "Authentication Required")
            with self.lock:
                expiry = self.access_tokens.get(token)
            if expiry is None:
                return xrpc_error(400, "InvalidToken", "Token could not be verified")
            if expiry < time.time():
                return xrpc_error(400, "ExpiredToken", "Token has expired")
            return handler(request)

        return wrapped

    def create_session(self, request: Request) -> Response:
        body = request.json() or {}
        if body.get("identifier") not in (self.handle, self.did) or body.get("password") != (
            self.password
        ):
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        return Response(200, self._session())

    def refresh_session(self, request: Request) -> Response:
        token = self._bearer(request)
        with self.lock:
            known = token in self.refresh_tokens
            self.refresh_tokens.discard(token)
        if not known:
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        return Response(200, self._session())

    def get_session(self, request: Request) -> Response:
        return Response(200, {"handle": self.handle, "did": self.did, "active": True})

    def describe_server(self, request: Request) -> Response:
        body = {"did": "did:web:fake.pds", "availableUserDomains": [".test"]}
        return Response(200, body | {"inviteCodeRequired": False})

    def not_implemented(self, request: Request) -> Response:
        return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")

    # -- repo -----------------------------------------------------------------------------------
    def upload_blob(self, request: Request) -> Response:
        mime = request.header("Content-Type", "application/octet-stream").split(";")[0].strip()
        if not request.body:
            return xrpc_error(400, "InvalidRequest", "request body is empty")
        cid = cid_for(request.body, 0x55)
        with self.lock:
            self.blobs[cid] = (mime, request.body)
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(request.body)}
        return Response(200, {"blob": blob})

    def create_record(self, request: Request) -> Response:
        body = request.json() or {}
        if body.get("repo") not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", f"Could not find repo: {body.get('repo')}")
        collection = str(body.get("collection", ""))
        record = body.get("record")
        rkey = body.get("rkey") or tid_now()
        if not isinstance(record, dict) or record.get("$type") != collection:
            return xrpc_error(400, "InvalidRequest", "Invalid $type: must match the collection")
        if not RKEY_RE.match(rkey) or rkey in (".", ".."):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key: {rkey}")
        if collection == POST_NSID:
            if not TID_RE.match(rkey):
                return xrpc_error(
                    400, "InvalidRequest", f'Invalid record key for {POST_NSID}: "{rkey}"'
                )
            problem = self._post_problem(record)
            if problem:
                return xrpc_error(400, "InvalidRequest", f"Invalid {POST_NSID} record: {problem}")
        uri = f"at://{self.did}/{collection}/{rkey}"
        with self.repo_lock:
            if uri in self.records:
                # the reference PDS's MST refuses the second insert with an unhandled error
                return xrpc_error(500, "InternalServerError", "Internal Server Error")
            cid = cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)
            with self.lock:
                self.records[uri] = StoredRecord(uri, cid, collection, rkey, record)
        commit = {"cid": cid_for(uri.encode() + cid.encode(), 0x71), "rev": tid_now()}
        return Response(
            200, {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
        )

    def _post_problem(self, record: dict[str, Any]) -> str:
        """What app.bsky.feed.post's lexicon (and the PDS blob checks) would refuse, or ''."""
        text = record.get("text")
        if not isinstance(text, str):
            return "text must be a string"
        if len(text.encode("utf-8")) > 3000:
            return "text must not be longer than 3000 bytes"
        try:
            datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
        except ValueError:
            return "createdAt must be a datetime"
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
                return f"bad facet index {index}"
            for feature in facet.get("features") or []:
                kind = feature.get("$type")
                if kind == "app.bsky.richtext.facet#link" and not feature.get("uri"):
                    return "link facet without uri"
                if kind == "app.bsky.richtext.facet#tag" and not feature.get("tag"):
                    return "tag facet without tag"
        embed = record.get("embed")
        if embed is None:
            return ""
        if embed.get("$type") != "app.bsky.embed.images":
            return f"unexpected embed {embed.get('$type')}"
        images = embed.get("images") or []
        if not 1 <= len(images) <= 4:
            return "embed.images must hold 1 to 4 images"
        for image in images:
            if not isinstance(image.get("alt"), str):
                return "image alt must be a string"
            ratio = image.get("aspectRatio")
            if ratio is not None and not (
                ratio.get("width", 0) >= 1 and ratio.get("height", 0) >= 1
            ):
                return "aspectRatio width and height must be >= 1"
            blob = image.get("image") or {}
            cid = str((blob.get("ref") or {}).get("$link"))
            with self.lock:
                stored = self.blobs.get(cid)
            if blob.get("$type") != "blob" or stored is None:
                return f"Could not find blob: {cid}"
            if not stored[0].startswith("image/"):
                return f"Wrong type of blob: {stored[0]}"
            if len(stored[1]) > IMAGE_MAX_BYTES:
                size = len(stored[1])
                return f"This file is too large. It is {size} but the maximum is {IMAGE_MAX_BYTES}"
        return ""

    def get_record(self, request: Request) -> Response:
        repo, collection, rkey = (
            request.query.get(k, [""])[0] for k in ("repo", "collection", "rkey")
        )
        did = self.did if repo in (self.did, self.handle) else repo
        uri = f"at://{did}/{collection}/{rkey}"
        with self.lock:
            found = self.records.get(uri)
        if found is None:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response(200, found.as_api())

    def list_records(self, request: Request) -> Response:
        q = request.query
        repo, collection = q.get("repo", [""])[0], q.get("collection", [""])[0]
        if repo not in (self.did, self.handle):
            return xrpc_error(400, "InvalidRequest", f"Could not find repo: {repo}")
        limit = int(q.get("limit", ["50"])[0])
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "limit must be between 1 and 100")
        reverse = q.get("reverse", ["false"])[0] == "true"
        cursor = q.get("cursor", [""])[0]
        with self.lock:
            rows = sorted(
                (r for r in self.records.values() if r.collection == collection),
                key=lambda r: r.rkey,
                reverse=not reverse,
            )
        if cursor:
            rows = [r for r in rows if (r.rkey > cursor if reverse else r.rkey < cursor)]
        page = rows[:limit]
        body: dict[str, Any] = {"records": [r.as_api() for r in page]}
        if page:
            body["cursor"] = page[-1].rkey
        return Response(200, body)


if __name__ == "__main__":
    serve_main(lambda port: FakeBluesky(port=port))
