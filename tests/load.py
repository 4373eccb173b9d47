"""Light background load for fault tests: a few client threads GET one URL over and over
while something breaks, and every answer is kept with its times, so that failures can be
counted exactly and told apart by when they happened."""

import http.client
import threading
import time
from dataclasses import dataclass

from tests import engine


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the request was sent
    ended: float
    status: int | None  # None: no HTTP answer at all (refused, reset, timed out)
    error: str = ""

    @property
    def ok(self):
        return self.status == 200


class Load:
    """`with Load(url, headers) as load:` runs `clients` threads until the block ends, or
    until `max_seconds` or `max_requests` is reached, whichever comes first."""

    def __init__(self, url, headers, clients=4, max_seconds=120, max_requests=50_000):
        self.url, self.headers = url, headers
        self.clients, self.max_seconds, self.max_requests = clients, max_seconds, max_requests
        self.outcomes = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self):
        self._give_up = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _client(self):
        while not self._stop.is_set() and time.monotonic() < self._give_up:
            started = time.monotonic()
            try:
                status, error = (
                    engine.request(self.url, headers=self.headers, timeout=10).status,
                    "",
                )
            # URLError, resets and timeouts are OSErrors; a garbled answer, HTTPException.
            except (OSError, http.client.HTTPException) as exception:
                status, error = None, f"{type(exception).__name__}: {exception}"
            with self._lock:
                if len(self.outcomes) >= self.max_requests:
                    return
                self.outcomes.append(Outcome(started, time.monotonic(), status, error))

    def wait_for(self, count, deadline=30):
        """Block until `count` more requests have been answered: the load is really running."""
        target = len(self.outcomes) + count
        engine.poll(lambda: len(self.outcomes) >= target, deadline, what=f"{count} requests")

    def failures(self, started_after=float("-inf"), started_before=float("inf")):
        with self._lock:
            return [
                outcome
                for outcome in self.outcomes
                if not outcome.ok and started_after <= outcome.started < started_before
            ]

    def summary(self):
        with self._lock:
            outcomes = list(self.outcomes)
        return {
            "requests": len(outcomes),
            "failed": sum(not outcome.ok for outcome in outcomes),
            "statuses": sorted({str(outcome.status) for outcome in outcomes}),
        }
