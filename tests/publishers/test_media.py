"""Public media: the bio site's media/ folder (with site.deploy) and an S3-compatible bucket."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from pipeline.publishers.base import AuthError, PermanentError, TargetContext, TransientError
from pipeline.publishers.media import CRAWLER_AGENT, SiteMedia, host_for, media_name, settings_for
from tests.fakes import CANARY
from tests.fakes.server import FakeServer, Handler, Request, Response
from tests.fakes.static_site import StaticSite
from tests.publishers.meta_helpers import card_post

CARD = card_post().card


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    with StaticSite(tmp_path / "var" / "site") as served:
        yield served


def test_card_is_written_content_hashed_and_checked(site: StaticSite) -> None:
    media = SiteMedia(site.root, site.url + "/")

    url = media.publish(CARD)

    path = site.root / "media" / media_name(CARD)
    assert url == f"{site.url}/media/{CARD.sha256}.jpg"
    assert path.read_bytes() == CARD.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # a web server must be able to read it
    before = path.stat().st_mtime_ns
    assert media.publish(CARD) == url
    assert path.stat().st_mtime_ns == before  # same bytes, same name: not rewritten
    # checked as Meta's crawler fetches it: GET with its user agent (a HEAD can pass where
    # Meta's GET is refused), once per publish
    assert site.fetched(media_name(CARD)) == 2
    assert set(site.agents) == {CRAWLER_AGENT}


def test_base_url_that_does_not_serve_the_card_is_permanent(
    tmp_path: Path, site: StaticSite
) -> None:
    with pytest.raises(PermanentError) as info:
        SiteMedia(tmp_path / "elsewhere", site.url).publish(CARD)

    message = str(info.value)
    assert f"{site.url}/media/{CARD.sha256}.jpg" in message
    assert "HTTP 404 with Content-Type text/html" in message
    assert "site.deploy" in message


class _HtmlEverywhere(FakeServer):
    """A host that answers every media path with a web page (a CDN's login wall, say)."""

    def routes(self) -> list[tuple[str, Handler]]:
        def page(request: Request) -> Response:
            return Response(200, "<html>please log in</html>", {"Content-Type": "text/html"})

        return [("GET /media/:name", page), ("HEAD /media/:name", page)]


def test_a_page_instead_of_an_image_is_permanent(tmp_path: Path) -> None:
    with _HtmlEverywhere() as host, pytest.raises(PermanentError) as info:
        SiteMedia(tmp_path, host.url).publish(CARD)

    assert "HTTP 200 with Content-Type text/html" in str(info.value)


def test_unreachable_base_url_is_transient(tmp_path: Path) -> None:
    with pytest.raises(TransientError) as info:
        SiteMedia(tmp_path, "http://127.0.0.1:9", timeout=1.0).publish(CARD)

    assert "http://127.0.0.1:9/media/" in str(info.value) and "no answer" in str(info.value)


def project(root: Path, base_url: str, deploy: str | None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = ['data_dir = "var"', "", "[site]", f'base_url = "{base_url}"']
    if deploy:
        lines.append(f"deploy = {json.dumps(deploy)}")
    (root / "config.toml").write_text("\n".join(lines) + "\n")
    return root


def ctx_for(data_dir: Path, **options: Any) -> TargetContext:
    return TargetContext(name="ig", network="instagram", options=options, data_dir=data_dir)


def test_site_deploy_runs_when_the_card_is_not_served_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    with StaticSite(tmp_path / "public") as public:
        project(root, public.url, "cp -R {site}/. " + str(public.root))
        monkeypatch.chdir(root)
        host = host_for(ctx_for(root / "var"))

        url = host.publish(CARD)

        assert (public.root / "media" / media_name(CARD)).read_bytes() == CARD.data
        assert requests.get(url, timeout=2).content == CARD.data


def test_config_is_found_through_quotecast_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "elsewhere", "https://quotes.example.com", None)
    monkeypatch.setenv("QUOTECAST_CONFIG", str(root / "config.toml"))
    monkeypatch.chdir(tmp_path)

    settings = settings_for(root / "var")

    assert settings is not None and settings.site.base_url == "https://quotes.example.com"
    assert settings_for(tmp_path / "other-data") is None  # a config for other data is not used


def test_failed_deploy_is_transient_with_the_stderr_tail_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTECAST_DEPLOY_CANARY", CANARY)
    root = tmp_path / "proj"
    with StaticSite(tmp_path / "public") as public:
        command = "sh -c 'env; echo rsync: connection refused >&2; exit 12'"
        project(root, public.url, command)
        monkeypatch.chdir(root)

        with pytest.raises(TransientError) as info:
            host_for(ctx_for(root / "var")).publish(CARD)

    assert "exited 12: rsync: connection refused" in str(info.value)
    assert CANARY not in str(info.value)


def test_a_target_without_a_public_home_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUOTECAST_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(PermanentError, match=r"\[site\] base_url"):
        host_for(ctx_for(tmp_path / "var"))
    with pytest.raises(PermanentError, match="s3_bucket"):
        host_for(ctx_for(tmp_path / "var", media="s3"))

    host = host_for(ctx_for(tmp_path / "var", media_base_url="https://cdn.example.com/q"))
    assert isinstance(host, SiteMedia) and host.base_url == "https://cdn.example.com/q/"


# -- S3-compatible bucket, against moto's server on 127.0.0.1 --------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    client.create_bucket(Bucket="cards")
    yield url
    server.stop()


def s3_ctx(url: str, **options: Any) -> TargetContext:
    return TargetContext(
        name="ig",
        network="instagram",
        options={
            "media": "s3",
            "s3_bucket": "cards",
            "s3_endpoint_url": url,
            "s3_region": "us-east-1",
            "s3_acl": "public-read",
            **options,
        },
        secrets={
            "s3_access_key_id": SecretStr(f"{CANARY}KEYID"),
            "s3_secret_access_key": SecretStr(f"{CANARY}-secret-key"),
        },
    )


def test_s3_upload_is_public_and_content_hashed(s3: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    host = host_for(s3_ctx(s3))

    url = host.publish(CARD)

    assert url == f"{s3}/cards/quotecast/{CARD.sha256}.jpg"
    answer = requests.get(url, timeout=2)
    assert answer.content == CARD.data and answer.headers["Content-Type"] == "image/jpeg"
    assert host.publish(CARD) == url  # already there: found by its name, not uploaded again
    assert "Credential=[redacted]/" in caplog.text  # botocore logs the signed headers
    assert CANARY not in caplog.text


def test_s3_object_that_is_not_public_is_permanent(s3: str) -> None:
    other = card_post(shade=123).card
    with pytest.raises(PermanentError) as info:
        host_for(s3_ctx(s3, s3_acl="")).publish(other)

    assert f"/cards/quotecast/{other.sha256}.jpg" in str(info.value) and "HTTP 403" in str(
        info.value
    )


def test_s3_missing_bucket_is_permanent(s3: str) -> None:
    with pytest.raises(PermanentError) as info:
        host_for(s3_ctx(s3, s3_bucket="no-such-bucket")).publish(card_post(shade=7).card)

    assert "NoSuchBucket" in str(info.value) and not isinstance(info.value, AuthError)
    assert CANARY not in str(info.value)
