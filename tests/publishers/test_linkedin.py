"""LinkedInPublisher against the LinkedIn fake: versioned headers, image upload, posts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.posts import Post
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TargetBlockedError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.linkedin import (
    DEFAULT_VERSION,
    VERSIONS,
    LinkedInPublisher,
    little,
    version_warning,
)
from tests.fakes import CANARY, Fault
from tests.fakes.linkedin_api import (
    ACTIVE_VERSIONS,
    MEMBER_SCOPES,
    ORGANIZATION,
    PERSON,
    FakeLinkedIn,
)
from tests.publishers.meta_helpers import ALT, TOKEN, card_post

INIT = "POST /rest/images"
UPLOAD = "PUT /dms-uploads/:upload"
IMAGE = "GET /rest/images/:urn"
POSTS = "POST /rest/posts"
FIND = "GET /rest/posts"
CAPTION = (
    "“Stay curious.” (Ada Lovelace, 1843) — read more: "
    "https://example.com/q/stay_curious?utm_source=linkedin&utm_medium=social\n\n"
    "#quotes #ada_lovelace"
)


@pytest.fixture
def fake() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn(token=TOKEN) as server:
        yield server


def make(fake: FakeLinkedIn, *, author: str = ORGANIZATION, **options: Any) -> LinkedInPublisher:
    ctx = TargetContext(
        name="li",
        network="linkedin",
        options={
            "api_base": fake.url,
            "author": author,
            "request_timeout": 2.0,
            "poll_interval": 0.01,
            **options,
        },
        secrets={"access_token": SecretStr(TOKEN)},
        data_dir=Path("unused"),
    )
    return LinkedInPublisher(ctx)


def post(**kw: Any) -> Post:
    kw.setdefault("caption", CAPTION)
    return card_post(target="li", network="linkedin", fmt="PNG", size=(160, 90), **kw)


def test_image_post_with_alt_text_and_versioned_headers(fake: FakeLinkedIn) -> None:
    fake.processing_polls = 2
    p = post()
    author = ORGANIZATION

    receipt = make(fake, author=author).publish(p)

    assert len(fake.posts) == 1
    made = fake.posts[0]
    assert made.author == author and made.data == p.card.data and made.alt_text == ALT
    assert made.commentary == little(CAPTION)
    assert made.body["visibility"] == "PUBLIC" and made.body["lifecycleState"] == "PUBLISHED"
    assert receipt.remote_id == made.urn
    assert receipt.url == f"https://www.linkedin.com/feed/update/{made.urn}/"
    routes = [r.route for r in fake.requests]
    assert routes == [INIT, UPLOAD, IMAGE, IMAGE, IMAGE, POSTS]
    for request in fake.requests:
        assert request.header("Authorization") == f"Bearer {TOKEN}"
        if request.route != UPLOAD:
            assert request.header("LinkedIn-Version") == DEFAULT_VERSION
            assert request.header("X-Restli-Protocol-Version") == "2.0.0"


def test_little_format_escapes_markup_but_keeps_links_and_hashtags() -> None:
    text = little(CAPTION)

    assert "\\(Ada Lovelace, 1843\\)" in text
    assert "https://example.com/q/stay_curious?utm_source=linkedin&utm_medium=social" in text
    assert text.endswith("#quotes #ada_lovelace")
    assert little("(see https://x.example/a_b?c=1).") == "\\(see https://x.example/a_b?c=1\\)."
    assert little("a_b *c* [d] {e} <f> @g ~h | \\ x#y") == (
        "a\\_b \\*c\\* \\[d\\] \\{e\\} \\<f\\> \\@g \\~h \\| \\\\ x\\#y"
    )


def test_revoked_token_is_an_auth_error_naming_the_variable(fake: FakeLinkedIn) -> None:
    fake.token_revoked = True

    with pytest.raises(AuthError) as info:
        make(fake).publish(post())

    assert info.value.credential == "QUOTECAST_LI_ACCESS_TOKEN"
    assert "QUOTECAST_LI_ACCESS_TOKEN" in str(info.value) and "REVOKED_ACCESS_TOKEN" in str(
        info.value
    )


def test_5xx_is_transient_and_429_waits(fake: FakeLinkedIn) -> None:
    pub = make(fake)
    fake.inject(POSTS, Fault.error(503, {"status": 503, "message": "Service Unavailable"}))
    with pytest.raises(TransientError) as info:
        pub.publish(post())
    assert not isinstance(info.value, RateLimitedError)

    fake.inject(
        INIT,
        Fault.error(429, {"status": 429, "message": "Too Many Requests"}, {"Retry-After": "60"}),
    )
    with pytest.raises(RateLimitedError) as limited:
        pub.publish(post())
    assert limited.value.retry_after == 60.0

    receipt = pub.publish(post())
    assert [x.urn for x in fake.posts] == [receipt.remote_id]


def test_duplicate_urn_nested_in_error_details_becomes_the_receipt(fake: FakeLinkedIn) -> None:
    fake.scopes = set(MEMBER_SCOPES)  # no finder: the answer itself must settle it
    pub = make(fake, author=PERSON)
    p = post()
    first = pub.publish(p)

    again = pub.publish(p)

    assert again.remote_id == first.remote_id
    assert again.url == f"https://www.linkedin.com/feed/update/{first.remote_id}/"
    assert len(fake.posts) == 1
    answer = fake.requests_to(POSTS)[-1]
    assert answer.route == POSTS and fake.requests_to(FIND) == []


def test_a_duplicate_said_only_by_its_nested_code_is_a_duplicate(fake: FakeLinkedIn) -> None:
    """The code is what LinkedIn keeps stable; the message wording is not to be relied on."""
    body = {
        "status": 422,
        "message": "Request could not be processed",
        "errorDetails": {
            "inputErrors": [{"description": "", "input": {}, "code": "DUPLICATE_POST"}]
        },
    }
    fake.inject(POSTS, Fault.error(422, body))

    with pytest.raises(DuplicateError):
        make(fake).publish(post())


def test_duplicate_without_a_named_post_is_still_a_duplicate(fake: FakeLinkedIn) -> None:
    body = {"status": 422, "message": "Duplicate post is detected", "errorDetails": {}}
    fake.inject(POSTS, Fault.error(422, body))

    with pytest.raises(DuplicateError):
        make(fake).publish(post())


def test_person_author_never_reads_images_and_waits_on_the_post(fake: FakeLinkedIn) -> None:
    """A w_member_social token cannot read /rest/images: the post is tried at once and
    LinkedIn's "image not available yet" answer is waited out, not polled for."""
    fake.scopes = set(MEMBER_SCOPES)
    fake.processing_polls = 2
    p = post()

    receipt = make(fake, author=PERSON).publish(p)

    assert [r.route for r in fake.requests] == [INIT, UPLOAD, POSTS, POSTS, POSTS]
    assert [x.urn for x in fake.posts] == [receipt.remote_id]
    assert fake.posts[0].author == PERSON and fake.posts[0].alt_text == ALT


def test_organisation_token_without_the_read_scope_waits_on_the_post(fake: FakeLinkedIn) -> None:
    """w_organization_social without r_organization_social: /rest/images answers 403, so
    the post is tried and "image not available yet" waited out, as for a person."""
    fake.scopes = {"w_organization_social"}
    fake.processing_polls = 2

    receipt = make(fake).publish(post())

    assert [r.route for r in fake.requests] == [INIT, UPLOAD, IMAGE, POSTS, POSTS, POSTS]
    assert [x.urn for x in fake.posts] == [receipt.remote_id]


def test_person_image_still_processing_after_the_wait_is_transient(fake: FakeLinkedIn) -> None:
    fake.scopes = set(MEMBER_SCOPES)
    fake.processing_polls = 1000

    with pytest.raises(TransientError, match="still processing") as info:
        make(fake, author=PERSON, image_wait=0.05).publish(post())

    assert not isinstance(info.value, RateLimitedError)
    assert fake.posts == [] and fake.requests_to(IMAGE) == []


def test_403_on_a_read_the_scopes_do_not_allow_is_not_an_auth_failure(
    fake: FakeLinkedIn,
) -> None:
    fake.scopes = set(MEMBER_SCOPES)
    pub = make(fake, author=PERSON)

    with pytest.raises(PublishError) as info:
        pub.find(post())

    assert not isinstance(info.value, AuthError)
    assert "r_member_social" in str(info.value) and "403" in str(info.value)
    # a write refused for a missing scope is still the credential's problem
    fake.scopes = {"openid"}
    with pytest.raises(AuthError):
        pub.publish(post())


def test_retired_version_426_stops_the_target_naming_the_option(fake: FakeLinkedIn) -> None:
    with pytest.raises(TargetBlockedError) as info:
        make(fake, linkedin_version="202511").publish(post())

    assert "options.linkedin_version" in str(info.value) and "426" in str(info.value)
    assert fake.posts == [] and [r.route for r in fake.requests] == [INIT]


def test_default_version_is_one_linkedin_lists_as_active(fake: FakeLinkedIn) -> None:
    assert DEFAULT_VERSION in ACTIVE_VERSIONS and DEFAULT_VERSION in VERSIONS
    make(fake).publish(post())
    assert {r.header("LinkedIn-Version") for r in fake.requests if r.route != UPLOAD} == {
        DEFAULT_VERSION
    }


@pytest.mark.parametrize(
    ("version", "today", "expected"),
    [
        ("202603", date(2026, 12, 3), None),
        ("202603", date(2027, 1, 20), "retired on 2027-03-16 (55 days)"),
        ("202511", date(2026, 12, 3), "was retired on 2026-11-16"),
        ("202610", date(2026, 12, 3), "newer than the versions quotecast knows"),
        ("202512", date(2026, 12, 3), "not a version LinkedIn documents"),
    ],
)
def test_version_warning_60_days_before_documented_retirement(
    version: str, today: date, expected: str | None
) -> None:
    warning = version_warning(version, today)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None and expected in warning


def test_token_introspection_reports_expiry(fake: FakeLinkedIn) -> None:
    fake.token_expires_at = 1_900_000_000
    secrets = {
        "access_token": SecretStr(TOKEN),
        "client_id": SecretStr(fake.client_id),
        "client_secret": SecretStr(fake.client_secret),
    }
    ctx = TargetContext(
        name="li",
        network="linkedin",
        options={"api_base": fake.url, "oauth_base": fake.url, "author": PERSON},
        secrets=secrets,
    )

    info = LinkedInPublisher(ctx).token_expiry()

    assert info is not None and info.expires_at is not None
    assert int(info.expires_at.timestamp()) == 1_900_000_000
    assert "w_member_social" in info.note
    assert make(fake).token_expiry() is None  # no client credentials: LinkedIn cannot be asked


def test_lost_answer_is_ambiguous_and_find_finds_it(fake: FakeLinkedIn) -> None:
    fake.scopes.add("r_member_social")  # an approved partner app may use the finder
    pub = make(fake, author=PERSON)
    other = post(slug="other", caption="Another quote #quotes")
    pub.publish(other)
    p = post()
    fake.inject(POSTS, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == fake.posts[1].urn
    assert fake.requests_to(FIND)[-1].header("X-RestLi-Method") == "FINDER"
    assert pub.find(post(slug="none", caption="Never posted")) is None


def test_author_must_be_a_person_or_organisation_urn(fake: FakeLinkedIn) -> None:
    with pytest.raises(PermanentError, match="urn:li:person"):
        make(fake, author="12345").publish(post())
    assert fake.requests == []


def test_token_goes_only_to_linkedin_hosts(fake: FakeLinkedIn) -> None:
    pub = make(fake)

    assert pub._trusted(f"{fake.url}/dms-uploads/x")
    assert pub._trusted("https://www.linkedin.com/dms-uploads/sp/abc")
    assert not pub._trusted("https://uploads.example.net/abc")
    assert not pub._trusted("https://evil-linkedin.com/abc")


def test_canary_token_never_in_errors_or_debug_logs(
    fake: FakeLinkedIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pub = make(fake)
    errors: list[PublishError] = []
    for n, (route, fault) in enumerate(
        [
            (POSTS, Fault.error(500, {"status": 500, "message": f"oops {TOKEN}"})),
            (INIT, Fault.error(429, {"status": 429, "message": "slow"})),
            (POSTS, Fault.reset_after_commit()),
            (UPLOAD, Fault.error(401, {"status": 401, "message": f"Invalid token {TOKEN}"})),
        ]
    ):
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(post(slug=f"n{n}", caption=f"Quote {n}"))
        errors.append(info.value)

    assert "/rest/posts" in caplog.text
    assert CANARY not in caplog.text
    assert all(CANARY not in str(e) and CANARY not in repr(e) for e in errors)
