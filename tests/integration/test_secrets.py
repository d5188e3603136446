"""A canary secret configured for every adapter never leaks.

Every credential (X's four OAuth values, the Mastodon token, the Bluesky app password, the
webhook signing secret and a webhook URL that is itself a credential) contains CANARY. A
real `quotecast publish --now -vv` subprocess runs through successes, retries, ambiguous
sends and refused credentials; the canary must not appear in its stdout/stderr, in the
output of status/history, in any file under the project (ledger and its WAL, outbox, cards,
sessions, site), nor in the text of any exception an adapter raises, chained causes included.
"""

from __future__ import annotations

import socket
import stat
import traceback
from pathlib import Path

import pytest

from pipeline.publishers.base import PublishError
from tests.conftest import Project
from tests.fakes import CANARY, Fault, make_post
from tests.fakes.x_api import problem
from tests.integration.harness import (
    NETWORKS,
    Net,
    add_items,
    configure,
    env_of,
    runner,
    running,
    start_net,
)

CANARY_BYTES = CANARY.encode()


def _webhook_url(net: Net) -> str:
    return f"{net.fake.url}/hook?token={CANARY}-webhook-url-token"


def _leaks(root: Path) -> list[str]:
    """Files under root whose bytes contain the canary (as text, or UTF-16, or url-quoted)."""
    needles = [CANARY_BYTES, CANARY.encode("utf-16-le"), CANARY.replace("-", "%2D").encode()]
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


def test_canary_never_leaves_a_subprocess_at_debug(bare_project: Project) -> None:
    project = bare_project
    with running(*NETWORKS) as nets:
        webhook_opts = {k: v for k, v in nets["webhook"].options.items() if k != "url"}
        nets["webhook"].options = webhook_opts  # the URL comes from the secret instead
        configure(
            project,
            nets.values(),
            outbox=True,
            extra_targets={
                f"{n}_bad": (n, {**nets[n].options, "url": f"{nets[n].fake.url}/hook"})
                if n == "webhook"
                else (n, nets[n].options)
                for n in NETWORKS
            },
        )
        add_items(project, "alpha", "beta")
        env = env_of(nets.values())
        env["QUOTECAST_WEBHOOK_URL"] = _webhook_url(nets["webhook"])
        for n in NETWORKS:  # the *_bad targets: canary-bearing credentials the fakes refuse
            for key, value in nets[n].bad_env.items():
                env[key.replace(f"QUOTECAST_{n.upper()}_", f"QUOTECAST_{n.upper()}_BAD_")] = value
            if n == "x":  # the other three X values are the good ones
                for key, value in nets[n].env.items():
                    bad_key = key.replace("QUOTECAST_X_", "QUOTECAST_X_BAD_")
                    env.setdefault(bad_key, value)
        assert sum(CANARY in v for v in env.values()) >= 12

        nets["x"].fake.inject(
            "POST /2/tweets",
            Fault.error(500, problem(500, "Internal Error", "boom").body),
            Fault.reset_after_commit(),
        )
        nets["mastodon"].fake.inject(
            "POST /api/v1/statuses",
            Fault.error(502, {"error": "bad gateway"}),
            Fault.reset_before_commit(),
        )
        nets["bluesky"].fake.inject(
            nets["bluesky"].create,
            Fault.error(429, {"error": "RateLimitExceeded"}, {"retry-after": "0"}),
            Fault.reset_after_commit(),
        )
        nets["webhook"].fake.inject(
            "POST /hook", Fault.error(500, {"error": "x"}), Fault.reset_after_commit()
        )

        result = project.run("-vv", "publish", "--now", "--all", "--yes", env=env)
        outputs = {"publish stdout": result.stdout, "publish stderr": result.stderr}
        for args in (("status",), ("status", "--json"), ("history", "--json")):
            shown = project.cli("-vv", *args, env=env)  # in-process: same code, faster
            outputs[" ".join(args)] = shown.output

    # the run really went through DEBUG logging, errors, retries and refusals
    assert result.returncode == 1, result.stdout + result.stderr
    assert " DEBUG " in result.stderr
    assert "attempt 1 failed" in result.stderr
    for n in NETWORKS:
        assert f"alpha → {n}_bad: auth:" in result.stdout, result.stdout
    assert "posted  alpha → x" in result.stdout
    assert "unknown  alpha → webhook" in result.stdout
    assert (project.var / "outbox" / "outbox" / "alpha.json").is_file()
    sessions = list((project.var / "sessions").glob("bluesky-*"))
    assert sessions  # the session cache exists; it holds tokens, so only its owner reads it
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in sessions)

    for name, text in outputs.items():
        assert CANARY not in text, f"canary in {name}:\n{text}"
    assert _leaks(project.root) == []
    # the request with the URL credential did reach the sink (so the secret was in use)
    assert any(CANARY in r.raw_query for r in nets["webhook"].fake.requests)


# -- exception text, in-process ---------------------------------------------------------------


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("network", NETWORKS)
def test_canary_never_in_exception_text(
    bare_project: Project, network: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every error an adapter raises — refused credential, 5xx, reset, timeout, nothing
    listening — carries no secret in its message, repr or chained causes."""
    net = start_net(network)
    dead = _closed_port()
    try:
        good_opts = dict(net.options)
        if network == "webhook":
            good_opts.pop("url")
            monkeypatch.setenv("QUOTECAST_WEBHOOK_URL", _webhook_url(net))
            dead_opts = dict(good_opts)
            monkeypatch.setenv(
                "QUOTECAST_WEBHOOK_DEAD_URL", f"{dead}/hook?token={CANARY}-webhook-url-token"
            )
        else:
            dead_opts = {**good_opts, "api_base": dead}
        net.options = good_opts
        configure(
            bare_project,
            [net],
            extra_targets={
                f"{network}_dead": (network, dead_opts),
                f"{network}_bad": (
                    network,
                    net.options
                    if network != "webhook"
                    else {**good_opts, "url": f"{net.fake.url}/hook"},
                ),
            },
            publish={"request_timeout": 0.5},
        )
        add_items(bare_project, "alpha")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
            monkeypatch.setenv(
                key.replace(f"_{network.upper()}_", f"_{network.upper()}_DEAD_"), value
            )
        for key, value in net.bad_env.items():
            monkeypatch.setenv(
                key.replace(f"_{network.upper()}_", f"_{network.upper()}_BAD_"), value
            )
        errors: list[PublishError] = []

        with runner(bare_project) as r:

            def attempt(target: str, fault: Fault | None = None) -> None:
                if fault is not None:
                    net.fake.inject(net.create, fault)
                n = len(errors)
                post = make_post(
                    slug=f"try-{n}",
                    target=target,
                    network=network,
                    caption=f"Try {n}: small steps https://example.com/q/try-{n} #focus",
                )
                try:
                    r.publisher(target).publish(post)
                except PublishError as exc:
                    errors.append(exc)
                else:
                    raise AssertionError(f"{target}: expected an error")

            attempt(network, Fault.error(500, {"error": "x"}))
            attempt(network, Fault.reset_after_commit())
            attempt(network, Fault.reset_before_commit())
            attempt(network, Fault(delay=1.0, status=503))
            if network != "bluesky":  # Bluesky answers a refused session with one fresh login
                attempt(network, Fault.error(401, {"error": "no"}))
            attempt(f"{network}_dead")
            attempt(f"{network}_bad")  # the fake refuses this canary-bearing credential

        assert len(errors) == (6 if network == "bluesky" else 7)
        kinds = {type(e).__name__ for e in errors}
        assert "AuthError" in kinds and len(kinds) >= 3, kinds
        for exc in errors:
            text = "".join(traceback.format_exception(exc))
            assert CANARY not in text, text
            assert CANARY not in repr(exc)
    finally:
        net.fake.stop()
