"""Load for the fault and scale stages. `Load`: a few client threads GET one URL over and
over while something breaks, and every answer is kept with its times, so that failures
can be counted exactly and told apart by when they happened. `wrk`: Debian's load
generator, for throughput, and what its report counts."""

import http.client
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness import client

# Counts answers other than 200: wrk itself takes 3xx for success.
NON_200_SCRIPT = Path(__file__).with_name("wrk_non_200.lua")


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
    until `max_seconds` or `max_requests` is reached, whichever comes first. A request
    unanswered after `timeout` seconds has failed. `send`, if given, makes each request
    instead (HTTPS under a site's name, say) and returns its status."""

    def __init__(self, url, headers, clients=4, max_seconds=120, max_requests=50_000, timeout=30,
                 send=None):  # fmt: skip
        self.url, self.headers, self.timeout = url, headers, timeout
        self.send = send or (
            lambda: client.request(self.url, headers=self.headers, timeout=self.timeout).status
        )
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
            thread.join(timeout=self.timeout + 15)

    def _client(self):
        while not self._stop.is_set() and time.monotonic() < self._give_up:
            started = time.monotonic()
            try:
                status, error = self.send(), ""
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
        client.poll(lambda: len(self.outcomes) >= target, deadline, what=f"{count} requests")

    def wait_for_successes(self, count, started_after, deadline=30):
        """Block until `count` requests sent after `started_after` have been answered 200."""

        def succeeded():
            with self._lock:
                return sum(o.ok and o.started > started_after for o in self.outcomes) >= count

        client.poll(succeeded, deadline, what=f"{count} requests answered 200")

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


def wrk_command(url, headers, connections, seconds, timeout="10s"):
    """wrk on `url` for `seconds` (it reports early when sent SIGINT), latency and answers
    other than 200 included."""
    return [
        "wrk", "--threads", "2", "--connections", str(connections), "--duration", f"{seconds}s",
        "--timeout", timeout, "--latency", "--script", str(NON_200_SCRIPT),
        *[f"--header={name}: {value}" for name, value in headers.items()], url,
    ]  # fmt: skip


def wrk(url, headers, connections, seconds):
    """Run wrk to the end; its figures."""
    command = wrk_command(url, headers, connections, seconds)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    assert result.returncode == 0, result.stderr
    return wrk_figures(result.stdout)


def _milliseconds(figure):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", figure).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def wrk_figures(output):
    """What wrk's report counts. `failed`: answers other than 200 (a redirect too), and
    socket errors (refused, reset, timed out), also counted by kind. wrk leaves out a line
    with nothing to count."""
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    error_kinds = dict.fromkeys(["connect", "read", "write", "timeout"], 0)
    if socket_errors:
        error_kinds = dict(zip(error_kinds, map(int, socket_errors.groups()), strict=True))
    figures = {
        "requests": int(re.search(r"(\d+) requests in", output)[1]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        "p50_ms": _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1]),
        "p99_ms": _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1]),
        "non_200": int(re.search(r"^Non-200 responses: (\d+)$", output, re.M)[1]),
        "socket_errors": sum(error_kinds.values()),
        "socket_error_kinds": error_kinds,
    }
    figures["failed"] = figures["non_200"] + figures["socket_errors"]
    return figures
