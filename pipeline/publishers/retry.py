"""The retry policy: exponential backoff with jitter, bounded attempts and time.

Only TransientError (and its RateLimitedError) is retried; a rate limit waits
for the time the network gave (Retry-After / x-rate-limit-reset) instead of
the backoff. Everything else propagates at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.stop import stop_base

from pipeline.config import PublishSettings
from pipeline.publishers.base import PublishError, RateLimitedError, TransientError

T = TypeVar("T")


class stop_when(stop_base):
    """Adapt a predicate to tenacity's stop protocol so it composes with `|`."""

    def __init__(self, predicate: Callable[[RetryCallState], bool]) -> None:
        self.predicate = predicate

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.predicate(retry_state)


class RetryPolicy:
    """Wait computation kept apart from tenacity so it can be tested as a function."""

    def __init__(self, settings: PublishSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.rng = rng or random.Random()

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        s = self.settings
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            # the network said when; add a little jitter so workers do not stampede
            return min(
                max(error.retry_after, 0.0) + self.rng.uniform(0, 0.1 * s.backoff_initial + 0.05),
                s.max_total_seconds,
            )
        ceiling = min(s.backoff_max, s.backoff_initial * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _wait_exceeds_budget(self, state: RetryCallState) -> bool:
        """Stop rather than sleep past the budget: a long rate limit is deferred to a later
        pass by the runner instead of holding this one (and its claim) for hours."""
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, RateLimitedError) or exc.retry_after is None:
            return False
        elapsed = state.seconds_since_start or 0.0
        return exc.retry_after > self.settings.max_total_seconds - elapsed

    def call(
        self,
        fn: Callable[[], T],
        on_failed_attempt: Callable[[int, PublishError, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Run fn until it succeeds, a non-transient error occurs, or the budget is spent."""
        s = self.settings

        def _wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.wait_for(state.attempt_number, exc)

        def _before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if on_failed_attempt and isinstance(exc, PublishError):
                wait = state.next_action.sleep if state.next_action else 0.0
                on_failed_attempt(state.attempt_number, exc, wait)

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=(
                stop_after_attempt(s.max_attempts)
                | stop_after_delay(s.max_total_seconds)
                | stop_when(self._wait_exceeds_budget)
            ),
            wait=_wait,
            before_sleep=_before_sleep,
            sleep=sleep,
            reraise=True,
        )
        return retrying(fn)
