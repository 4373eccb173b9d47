"""Time to the first 200: from starting `docker run` to the first answer on the published
port, for each image and for the engine floor (no app at all)."""

import re
import subprocess
import threading
import time
from datetime import datetime

from bench.host import BASE_IMAGE
from bench.records import Floor, Start, median
from bench.stop import floor_stop, outcome_of
from harness import engine
from harness.stacks import free_port


def parse_docker_time(value):
    """An engine timestamp (RFC 3339 with nanoseconds) as seconds since the epoch."""
    value = re.sub(r"(\.\d{6})\d*", r"\1", value.strip()).replace("Z", "+00:00")
    return datetime.fromisoformat(value).timestamp()


def first_200(label, image, resources, network, env, attempt, command=(), path="/health/"):
    """A fresh container of `image`, timed from `docker run` to its first 200 from `path`.

    A new probe goes out every 10 ms, each on its own connection and thread, and the
    earliest 200 counts. Probing one at a time would not do: until the container's network
    is up, docker-proxy accepts a connection and then waits on its own dial, so a single
    probe would hang for its whole timeout while the app may already be answering."""
    port = free_port()
    name = resources.container(resources.name(f"{label}-start{attempt}"))
    docker_run = [
        "docker",
        "run",
        "--detach",
        f"--name={name}",
        f"--network={network}",
        f"--publish=127.0.0.1:{port}:8000",
        *[f"--env={key}={value}" for key, value in env.items()],
        image,
        *command,
    ]
    answered = threading.Event()
    first = []  # (perf_counter, wall clock) of the earliest 200
    lock = threading.Lock()

    def probe():
        if outcome_of(port, path, timeout=5) == "200":
            now, wall = time.perf_counter(), time.time()
            with lock:
                if not first:
                    first.append((now, wall))
                    answered.set()

    start = time.perf_counter()
    process = subprocess.Popen(
        docker_run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    returned = None
    try:
        while True:
            if returned is None and process.poll() is not None:
                returned = time.perf_counter() - start
                if process.returncode != 0:
                    raise RuntimeError(f"docker run {image}: {process.stderr.read()}")
            threading.Thread(target=probe, daemon=True).start()
            if answered.wait(0.01):
                break
            if time.perf_counter() - start > 120:
                logs = engine.docker("logs", "--tail=20", name, check=False)
                raise RuntimeError(f"{name}: no 200 within 120 s:\n{logs.stdout}{logs.stderr}")
        answered_at, answered_wall = first[0]
        process.wait(timeout=60)
        if returned is None:
            returned = time.perf_counter() - start
        started = engine.docker("inspect", "--format", "{{.State.StartedAt}}", name).stdout
        return Start(
            first_200=answered_at - start,
            run_returned=returned,
            app_boot=answered_wall - parse_docker_time(started),
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        resources.drop(name)


def starts(label, image, resources, network, env, runs):
    return [
        first_200(label, image, resources, network, env, attempt) for attempt in range(1, runs + 1)
    ]


def engine_floor(resources, network, runs):
    """What the engine itself costs, with no app at all: `docker run` to the first 200
    from `python -m http.server` in the base image, and `docker stop` of a process that
    exits the moment it gets SIGTERM. No image can start or stop faster than this here."""
    server = ("python3", "-m", "http.server", "8000")
    timed = [
        first_200("floor", BASE_IMAGE, resources, network, {}, attempt, server, path="/")
        for attempt in range(1, runs + 1)
    ]
    return Floor(
        first_200=median([start.first_200 for start in timed]),
        run_returned=median([start.run_returned for start in timed]),
        stop=floor_stop(resources),
    )
