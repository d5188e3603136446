"""The retry policy as a function: which errors retry, how long it waits, when it stops."""

from __future__ import annotations

import random

import pytest

from pipeline.config import PublishSettings
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TransientError,
)
from pipeline.publishers.retry import RetryPolicy


def policy(**kw: float) -> RetryPolicy:
    settings = PublishSettings(
        **{"max_attempts": 5, "backoff_initial": 1.0, "backoff_max": 8.0, **kw}  # type: ignore[arg-type]
    )
    return RetryPolicy(settings, random.Random(7))


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    p = policy()
    waits = [p.wait_for(n, TransientError("x")) for n in range(1, 7)]
    ceilings = [1, 2, 4, 8, 8, 8]
    for w, c in zip(waits, ceilings, strict=True):
        assert c / 2 <= w <= c
    assert len({round(w, 6) for w in waits}) == len(waits)  # jittered, not constant


def test_rate_limit_waits_for_the_time_the_network_gave() -> None:
    p = policy()
    w = p.wait_for(1, RateLimitedError("429", retry_after=30.0))
    assert 30.0 <= w <= 30.2
    assert p.wait_for(1, RateLimitedError("429", retry_after=None)) <= 1.0


def test_transient_errors_retry_until_success_and_each_failure_is_reported() -> None:
    calls: list[int] = []
    failures: list[tuple[int, str, float]] = []
    sleeps: list[float] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError(f"HTTP 503 #{len(calls)}")
        return "ok"

    result = policy().call(fn, lambda n, e, w: failures.append((n, str(e), w)), sleep=sleeps.append)
    assert result == "ok" and len(calls) == 3
    assert [(n, e) for n, e, _ in failures] == [(1, "HTTP 503 #1"), (2, "HTTP 503 #2")]
    assert sleeps == [w for _, _, w in failures]


@pytest.mark.parametrize(
    "error",
    [PermanentError("400"), AuthError("401"), AmbiguousError("reset"), PublishError("x")],
)
def test_non_transient_errors_are_not_retried(error: PublishError) -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        policy().call(fn, sleep=lambda s: None)
    assert len(calls) == 1


def test_attempts_are_bounded() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise TransientError("down")

    with pytest.raises(TransientError):
        policy(max_attempts=4).call(fn, sleep=lambda s: None)
    assert len(calls) == 4


def test_total_time_is_bounded() -> None:
    import time

    calls = []

    def fn() -> None:
        calls.append(1)
        time.sleep(0.05)
        raise TransientError("down")

    with pytest.raises(TransientError):
        policy(max_attempts=20, max_total_seconds=0.12).call(fn, sleep=lambda s: None)
    assert 2 <= len(calls) <= 4


def test_a_rate_limit_longer_than_the_budget_is_not_slept_through() -> None:
    calls = []
    sleeps: list[float] = []

    def fn() -> None:
        calls.append(1)
        raise RateLimitedError("quota used up", retry_after=3600.0)

    with pytest.raises(RateLimitedError):
        policy(max_total_seconds=600).call(fn, sleep=sleeps.append)
    assert len(calls) == 1 and sleeps == []  # the runner defers it to a later pass
