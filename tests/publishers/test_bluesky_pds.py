"""BlueskyPublisher against the AT Protocol reference PDS (tests/pds, no AppView).

The fake proves the error mapping; this proves the records are what a real PDS accepts:
lexicon validation, TID record keys, blob limits, and the answer to a taken record key.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from atproto import Client, models
from PIL import Image, ImageDraw, ImageFont
from pydantic import SecretStr

from pipeline.posts import Card, Facet, Post
from pipeline.publishers.base import DuplicateError, TargetContext
from pipeline.publishers.bluesky import BlueskyPublisher, record_key

PDS_DIR = Path(__file__).resolve().parents[1] / "pds"
INSTALL_HINT = "run .ci/run or `npm ci --prefix tests/pds`"
START_TIMEOUT = 90.0
LINK = "https://quotes.example/stay-hungry?utm_source=bluesky&utm_medium=social"
CAPTION = f"“Stay hungry, stay foolish.” — Steve Jobs ✨🚀\n{LINK} #quotes"
ALT = "Quote card: “Stay hungry, stay foolish.” — Steve Jobs, on a deep blue background."

pytestmark = pytest.mark.pds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Start tests/pds/start.mjs (PLC + PDS on loopback), yield its account, kill it after."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"Node.js (node 20+) is not installed; {INSTALL_HINT}")
    if not (PDS_DIR / "node_modules" / "@atproto" / "dev-env").is_dir():
        pytest.skip(f"tests/pds/node_modules is missing; {INSTALL_HINT}")
    tmp = tmp_path_factory.mktemp("pds")
    out, err = tmp / "stdout.log", tmp / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    env["TMPDIR"] = str(tmp)  # the PDS keeps its data and blobs under os.tmpdir()
    args = [node, "start.mjs", "--plc-port", str(_free_port()), "--pds-port", str(_free_port())]
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(args, cwd=PDS_DIR, stdout=stdout, stderr=stderr, env=env)
    try:
        info = _wait_ready(proc, out, err)
        info["start_seconds"] = round(time.monotonic() - started, 1)
        yield info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _wait_ready(proc: subprocess.Popen[bytes], out: Path, err: Path) -> dict[str, Any]:
    """The JSON line start.mjs prints once the account exists; bounded by START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"pds_url"' in line:
                info: dict[str, Any] = json.loads(line)
                return info
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = err.read_text(errors="replace")[-2000:]
    state = f"exited with {proc.returncode}" if proc.poll() is not None else "not ready"
    pytest.fail(f"reference PDS {state} after {START_TIMEOUT:.0f}s; stderr tail:\n{tail}")


def rendered_card(width: int = 1200, height: int = 675) -> bytes:
    """A card like the renderer makes: background band, large quote text, attribution."""
    img = Image.new("RGB", (width, height), (16, 32, 72))
    draw = ImageDraw.Draw(img)
    for y in range(height):  # a vertical gradient
        shade = 40 + 60 * y // height
        draw.line([(0, y), (width, y)], fill=(16, 32 + shade // 3, 72 + shade))
    draw.rectangle((60, 60, width - 61, height - 61), outline=(245, 196, 66), width=6)
    try:
        big, small = ImageFont.load_default(size=64), ImageFont.load_default(size=32)
    except (TypeError, OSError):  # Pillow without FreeType
        big = small = ImageFont.load_default()
    draw.text((120, 240), "“Stay hungry,", font=big, fill=(255, 255, 255))
    draw.text((120, 320), "stay foolish.”", font=big, fill=(255, 255, 255))
    draw.text((120, 460), "— Steve Jobs", font=small, fill=(245, 196, 66))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _facets(caption: str) -> tuple[Facet, ...]:
    def span(needle: str) -> tuple[int, int]:
        start = len(caption[: caption.index(needle)].encode("utf-8"))
        return start, start + len(needle.encode("utf-8"))

    (ls, le), (ts, te) = span(LINK), span("#quotes")
    return (Facet(ls, le, "link", LINK), Facet(ts, te, "tag", "quotes"))


def _post(slug: str, data: bytes) -> Post:
    card = Card(data, "image/png", 1200, 675, "landscape")
    return Post(slug, "bsky", "bluesky", CAPTION, ALT, LINK, card, _facets(CAPTION))


def test_card_is_posted_found_and_readable_on_the_reference_pds(
    pds: dict[str, Any], tmp_path: Path
) -> None:
    data = rendered_card()
    assert len(data) <= BlueskyPublisher.limits.image_max_bytes
    post = _post("stay-hungry", data)
    ctx = TargetContext(
        name="bsky",
        network="bluesky",
        options={"api_base": pds["pds_url"], "handle": pds["handle"], "request_timeout": 20},
        secrets={"app_password": SecretStr(pds["password"])},
        data_dir=tmp_path,
    )
    pub = BlueskyPublisher(ctx)
    try:
        receipt = pub.publish(post)
        rkey = record_key(post)
        assert receipt.remote_id == f"at://{pds['did']}/app.bsky.feed.post/{rkey}"
        assert receipt.url == f"https://bsky.app/profile/{pds['handle']}/post/{rkey}"

        found = pub.find(post)
        assert found is not None and found.remote_id == receipt.remote_id

        # a retry of the same post: the PDS refuses the taken rkey, find resolves it
        with pytest.raises(DuplicateError):
            pub.publish(post)
        assert pub.find(_post("never-sent", data)) is None
    finally:
        pub.close()

    reader = Client(base_url=pds["pds_url"])
    reader.login(pds["handle"], pds["password"], fetch_bsky_profile=False)
    got = reader.com.atproto.repo.get_record(
        models.ComAtprotoRepoGetRecord.Params(
            repo=pds["did"], collection="app.bsky.feed.post", rkey=rkey
        )
    )
    value = got.value
    assert value.text == CAPTION
    [image] = value.embed.images
    assert image.alt == ALT
    assert (image.aspect_ratio.width, image.aspect_ratio.height) == (1200, 675)
    assert image.image.mime_type == "image/png" and image.image.size == len(data)
    blob = reader.com.atproto.sync.get_blob(
        models.ComAtprotoSyncGetBlob.Params(did=pds["did"], cid=image.image.ref.link)
    )
    assert blob == data
    raw = CAPTION.encode("utf-8")
    spans = [(f.index.byte_start, f.index.byte_end) for f in value.facets]
    assert [raw[s:e].decode() for s, e in spans] == [LINK, "#quotes"]

    listing = reader.com.atproto.repo.list_records(
        models.ComAtprotoRepoListRecords.Params(repo=pds["did"], collection="app.bsky.feed.post")
    )
    assert [r.uri for r in listing.records] == [receipt.remote_id]
    print(f"reference PDS started in {pds['start_seconds']}s")
