"""A small threaded HTTP server for network fakes, with per-endpoint fault injection.

Fakes subclass `FakeServer`, declare routes ("POST /2/tweets", "GET /2/users/:id/tweets")
and keep their own state. A test queues `Fault`s per route to make the next request(s)
fail in a chosen way: an error status, a delay past the client's timeout, "process the
request, then reset the connection" (the network did post, the client cannot know), or
"hold" on an Event the test releases (for crash tests that SIGKILL the client).

Serving happens in a daemon thread on 127.0.0.1 with an ephemeral port, so the client can
be the test process itself or a subprocess pointed at `server.url`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

#: how long a held request waits at most for the test to release it
HOLD_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Request:
    """What reached the fake, recorded for assertions."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    raw_query: str = ""
    route: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else str(value)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def multipart(self) -> dict[str, Part]:
        return {p.name: p for p in parse_multipart(self.header("Content-Type"), self.body)}


@dataclass
class Response:
    """What a route handler answers; dict/list bodies are sent as JSON."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """One injected failure, consumed by one request to its route.

    Order of effects: `arrived` is set; wait on `hold` (if any); sleep `delay`; then either
    answer `status` (the request is NOT processed), or process the request when `commit`
    and answer normally — unless `reset`, which closes the socket without answering.
    `done` is set when the fake has finished with the request.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    reset: bool = False
    commit: bool = True
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def error(cls, status: int, body: Any = None, headers: dict[str, str] | None = None) -> Fault:
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def reset_after_commit(cls) -> Fault:
        """The network stores the post, then the connection dies before the answer."""
        return cls(reset=True, commit=True)

    @classmethod
    def reset_before_commit(cls) -> Fault:
        """The connection dies after the request arrived but before anything was stored."""
        return cls(reset=True, commit=False)

    @classmethod
    def slow(cls, seconds: float, commit: bool = True) -> Fault:
        """Answer (and, with commit, store) only after `seconds`: longer than a client timeout."""
        return cls(delay=seconds, commit=commit)

    @classmethod
    def held(cls, release: threading.Event | None = None) -> Fault:
        """Block until the test sets `release` (then process and answer normally)."""
        return cls(hold=release or threading.Event())


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class _Route:
    key: str  # "POST /2/users/:id/tweets"
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r":([A-Za-z_]+)", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{regex}$")


class FakeServer:
    """Base of every fake: routing, request log, fault queues, lifecycle."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._routes: list[_Route] = []
        self._host = host
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.state_file: Path | None = None
        for key, handler in self.routes():
            method, _, template = key.partition(" ")
            self._routes.append(_Route(key, method, _compile(template), handler))

    # -- to override -------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, Handler]]:
        """("METHOD /path/:param", handler) pairs."""
        return []

    def state(self) -> dict[str, Any]:
        """JSON-able summary written to `state_file` after every request (standalone mode)."""
        return {}

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer((self._host, self._port), handler)
        self._httpd.daemon_threads = True
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            for queue in self._faults.values():
                for fault in queue:
                    if fault.hold is not None:
                        fault.hold.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and assertions --------------------------------------------------------------
    def inject(self, route: str, *faults: Fault) -> Fault:
        """Queue faults for the next requests to `route` ("*" = any route); returns the last."""
        known = {r.key for r in self._routes} | {"*"}
        if route not in known:
            raise KeyError(f"unknown route {route!r}; known: {sorted(known)}")
        with self.lock:
            self._faults.setdefault(route, deque()).extend(faults)
        return faults[-1]

    def pending_faults(self, route: str) -> int:
        with self.lock:
            return len(self._faults.get(route, ()))

    def requests_to(self, route: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def _next_fault(self, route: str) -> Fault | None:
        with self.lock:
            for key in (route, "*"):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            if route.method == method:
                m = route.pattern.match(path)
                if m:
                    return route, m.groupdict()
        return None, {}

    def _write_state(self) -> None:
        if self.state_file is not None:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state(), indent=1, default=str))
            tmp.replace(self.state_file)


class _Dropped(Exception):
    """The fault asked to close the connection without an answer."""


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; tests read `fake.requests` instead."""

    def _dispatch(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route, params = fake._match(self.command, split.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            raw_query=split.query,
            route=route.key if route else "",
            params=params,
        )
        with fake.lock:
            fake.requests.append(request)
        fault = fake._next_fault(route.key) if route else None
        try:
            response = self._respond_to(request, route, fault)
            self._send(response)
        except _Dropped:
            self._reset()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout) or was killed
        finally:
            if fault is not None:
                fault.done.set()
            fake._write_state()

    def _respond_to(self, request: Request, route: _Route | None, fault: Fault | None) -> Response:
        if fault is not None:
            fault.arrived.set()
            if fault.hold is not None:
                fault.hold.wait(HOLD_LIMIT_SECONDS)
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                return Response(fault.status, fault.body, dict(fault.headers))
            if fault.reset and not fault.commit:
                raise _Dropped
        if route is None:
            response = Response(404, {"error": "Not Found"})
        else:
            response = route.handler(request)
        if fault is not None and fault.reset:
            raise _Dropped
        return response

    def _send(self, response: Response) -> None:
        if isinstance(response.body, bytes):
            payload, ctype = response.body, "application/octet-stream"
        elif isinstance(response.body, str):
            payload, ctype = response.body.encode("utf-8"), "text/plain; charset=utf-8"
        elif response.body is None:
            payload, ctype = b"", ""
        else:
            payload, ctype = json.dumps(response.body).encode("utf-8"), "application/json"
        self.send_response(response.status)
        headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        if ctype and "content-type" not in headers:
            self.send_header("Content-Type", ctype)
        for name, value in headers.values():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()
        self.close_connection = True

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees a reset, not an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().finish()


def parse_multipart(content_type: str, body: bytes) -> Iterator[Part]:
    """Split a multipart/form-data body into its parts, keeping bytes exactly."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ValueError(f"not a multipart body: {content_type!r}")
    delimiter = b"--" + m.group(1).encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        raw_headers, _, data = chunk.partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = Message()
        for line in raw_headers.decode("utf-8").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        disposition = headers.get("Content-Disposition", "")
        name_m = re.search(r'\bname="([^"]*)"', disposition)
        file_m = re.search(r'\bfilename="([^"]*)"', disposition)
        yield Part(
            name=name_m.group(1) if name_m else "",
            filename=file_m.group(1) if file_m else None,
            content_type=headers.get("Content-Type"),
            data=data,
        )


def serve_main(factory: Callable[[int], FakeServer], argv: list[str] | None = None) -> None:
    """Run a fake as its own process: `python -m tests.fakes.x_api --port N --state FILE`."""
    parser = argparse.ArgumentParser(description="serve a network fake on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, default=None, help="JSON file rewritten per request")
    args = parser.parse_args(argv)
    fake = factory(args.port)
    fake.state_file = args.state
    fake.start()
    fake._write_state()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
