"""`docker stop` under load: how long it takes, and what happens to the requests in
flight when it begins and to those sent after."""

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass

from bench.host import BASE_IMAGE
from bench.records import Stop, Tally, median
from harness import engine
from harness.stacks import VIA_HTTPS

STOP_CLIENTS = 16  # concurrent clients during `docker stop`


def outcome_of(port, path, headers=VIA_HTTPS, timeout=15.0):
    """One request on a fresh connection: "200", "HTTP 502", or the exception's name."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return str(response.status) if response.status == 200 else f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


@dataclass(frozen=True)
class Attempt:
    start: float
    end: float
    outcome: str


def tally(attempts):
    failed = [attempt.outcome for attempt in attempts if attempt.outcome != "200"]
    return Tally(total=len(attempts), failed=len(failed), kinds=dict(Counter(failed)))


def stop_under_load(container, port, path="/"):
    """`docker stop` while STOP_CLIENTS clients send requests without pause, each on a fresh
    connection. Requests in flight when the stop began must not fail for a clean drain;
    those sent after it may find no server left to accept them (what a client sees, not a
    drain failure)."""
    attempts: list[Attempt] = []
    done = threading.Event()

    def client():
        while not done.is_set():
            start = time.perf_counter()
            outcome = outcome_of(port, path)
            attempts.append(Attempt(start, time.perf_counter(), outcome))
            if outcome != "200":
                time.sleep(0.01)  # no tight loop of refused connections

    clients = [threading.Thread(target=client, daemon=True) for _ in range(STOP_CLIENTS)]
    for thread in clients:
        thread.start()
    time.sleep(2)  # steady load first
    stop_began = time.perf_counter()
    engine.docker("stop", container, timeout=120)
    stop_seconds = time.perf_counter() - stop_began
    time.sleep(0.5)
    done.set()
    for thread in clients:
        thread.join(timeout=30)
    return Stop(
        seconds=stop_seconds,
        before=tally([a for a in attempts if a.end < stop_began]),
        in_flight=tally([a for a in attempts if a.start < stop_began <= a.end]),
        after=tally([a for a in attempts if a.start >= stop_began]),
    )


def floor_stop(resources, runs=3):
    """`docker stop` of a process that exits the moment it gets SIGTERM: no image can stop
    faster than this here. Median seconds."""
    exits_on_term = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); time.sleep(3600)"
    )
    stops = []
    for attempt in range(1, runs + 1):
        name = resources.container(resources.name(f"floor-stop{attempt}"))
        engine.docker(
            "run", "--detach", f"--name={name}", BASE_IMAGE, "python3", "-c", exits_on_term
        )
        time.sleep(0.5)  # let it reach its sleep
        start = time.perf_counter()
        engine.docker("stop", name)
        stops.append(time.perf_counter() - start)
        resources.drop(name)
    return median(stops)
