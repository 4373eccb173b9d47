"""Benchmark the baked template's image and stack against two baseline Dockerfiles.

    python bench/run.py                       # the full run (about 5 minutes on 2 cores)
    python bench/run.py --duration 3 --startup-runs 2 --code-rebuilds 1   # a quick look

One run bakes the template with its default answers, builds three runtime images of the
same baked code on the same base image (the template's own Dockerfile, and the two
baselines in bench/baselines/), then measures them side by side: image size, build times,
time to the first answer, throughput and latency (wrk), memory, and `docker stop` under
load. The template, and typical in its place, are also measured behind nginx in the
template's compose.prod.yaml stack.

The table goes to stdout, progress to stderr, and both into bench/RESULTS.md. It is a
benchmark, not a test: numbers never fail it; only a real error (a build that breaks, a
container that never answers) exits non-zero. Everything it creates in Docker is named
bench-<run id>-… and removed at the end, error or not. Method: bench/README.md.
"""

import argparse
import http.client
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import uv  # the host's uv, found the way scripts/relock.py finds it

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The template's own test helpers: docker, the stacks' port and headers, wrk.
from harness import client, engine  # noqa: E402
from harness.load import wrk_command, wrk_figures  # noqa: E402
from harness.stacks import PUBLIC_HOST, VIA_HTTPS, free_port  # noqa: E402
from harness.template import OFFICIAL_IMAGES  # noqa: E402

BENCH = REPO / "bench"
BASELINES = BENCH / "baselines"
RESULTS = BENCH / "RESULTS.md"

BASE_IMAGE = OFFICIAL_IMAGES["PYTHON_IMAGE"]
# local stand-ins, never pulled
REQUIRED_IMAGES = [
    OFFICIAL_IMAGES[name] for name in ("PYTHON_IMAGE", "POSTGRES_IMAGE", "NGINX_IMAGE")
]
WRK_PACKAGE, WRK_VERSION = "wrk", "4.1.0-3+b2"  # Debian bookworm's wrk, pinned
# The dependency change: one small pure-Python package that is not in the lock yet.
EXTRA_DEPENDENCY = "humanize==4.17.0"

# Every request carries what the TLS-terminating proxy in front would add, so the prod
# settings (SECURE_SSL_REDIRECT on, ALLOWED_HOSTS from the bake) serve the page instead
# of redirecting it. The same headers go to all three images and to nginx.
CONNECTIONS = 64  # wrk connections
STOP_CLIENTS = 16  # concurrent clients during `docker stop`
MB, MIB = 1_000_000, 1024 * 1024

STARTED = time.perf_counter()


def log(message):
    print(f"[{time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def run(command, cwd=None, env=None, timeout=600):
    """A host command that must succeed; its output is the error message when it does not."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{result.stdout}{result.stderr}")
    return result


def median(values):
    return statistics.median(values) if values else float("nan")


# ---- what this run creates, and how to undo it -------------------------------------------


class Resources:
    """Every container, network, image tag and compose project this run creates, each with
    the command that removes it. `release` undoes them all, newest first, error or not."""

    def __init__(self):
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        self._undo: dict[str, Callable[[], object]] = {}

    def name(self, suffix):
        return f"{self.run_id}-{suffix}"

    def add(self, key, undo):
        self._undo[key] = undo
        return key

    def container(self, name):
        return self.add(
            name, lambda: engine.docker("rm", "--force", "--volumes", name, check=False)
        )

    def image(self, tag):
        return self.add(tag, lambda: engine.docker("rmi", "--force", tag, check=False))

    def drop(self, key):
        """Undo one thing now (a finished probe container, a rebuilt image)."""
        self._undo.pop(key)()

    def release(self):
        for key in reversed(list(self._undo)):
            try:
                self._undo.pop(key)()
            except Exception as error:  # keep cleaning up whatever else there is
                log(f"cleanup of {key} failed: {error}")


# ---- preparing the baked project ----------------------------------------------------------


def uv_env():
    """uv trusts only its own roots unless told about this machine's proxy CA."""
    env = dict(os.environ)
    if engine.CA_BUNDLE.exists():
        env.setdefault("SSL_CERT_FILE", str(engine.CA_BUNDLE))
    return env


def bake(workdir):
    """The template with every default answer, as `cookiecutter --no-input` makes it."""
    output = workdir / "baked"
    run([sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", output, REPO])
    (project,) = output.iterdir()
    return project


def export_requirements(project):
    """requirements.txt for the baselines: exactly the template's locked runtime set."""
    run(
        [
            uv.find_uv_bin(),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--output-file",
            "requirements.txt",
        ],
        cwd=project,
        env=uv_env(),
    )


def dependency_change(pristine, workdir):
    """The files a developer changes to add one dependency: pyproject.toml, re-locked with
    uv (this needs PyPI), and the baselines' requirements.txt exported from the new lock."""
    project = Path(shutil.copytree(pristine, workdir / "dependency-change"))
    pyproject = project / "pyproject.toml"
    marker = "dependencies = [\n"
    text = pyproject.read_text()
    if marker not in text:
        raise RuntimeError(f"no {marker!r} in the baked pyproject.toml")
    pyproject.write_text(text.replace(marker, f'{marker}    "{EXTRA_DEPENDENCY}",\n', 1))
    # --python: the baked .python-version names 3.13, which this host does not have.
    run([uv.find_uv_bin(), "lock", "--python", sys.executable], cwd=project, env=uv_env())
    export_requirements(project)
    names = ("pyproject.toml", "uv.lock", "requirements.txt")
    return {name: (project / name).read_bytes() for name in names}


# ---- builds --------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    dockerfile: Path | None  # None: the baked project's own Dockerfile
    target: str | None = None
    image: str = ""  # the runtime image built from the unedited project
    figures: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def timed_build(variant, context, tag, resources, target=None):
    """`docker buildx build --load` as a user runs it; returns the wall-clock seconds."""
    args = ["buildx", "build", "--load", f"--tag={tag}"]
    if engine.CA_BUNDLE.exists():
        args.append(f"--secret=id=ca_bundle,src={engine.CA_BUNDLE}")
    if variant.dockerfile:
        args.append(f"--file={variant.dockerfile}")
    if target or variant.target:
        args.append(f"--target={target or variant.target}")
    resources.image(tag)
    start = time.perf_counter()
    engine.docker(*args, str(context), timeout=1800)
    return time.perf_counter() - start


def measure_builds(variant, pristine, slug, dep_files, workdir, resources, code_rebuilds):
    """Cold build (empty builder cache), code-only rebuilds, then a dependency change."""
    context = Path(shutil.copytree(pristine, workdir / f"context-{variant.name}"))
    repository = f"{resources.run_id}/{variant.name}"

    log(f"{variant.name}: pruning the builder cache, then the cold build")
    engine.docker("builder", "prune", "--all", "--force", timeout=600)
    variant.image = f"{repository}:cold"
    cold = timed_build(variant, context, variant.image, resources)
    log(f"{variant.name}: cold build {cold:.1f} s")

    # The floor under any rebuild: the same build with nothing changed, every step cached.
    tag = f"{repository}:unchanged"
    unchanged = timed_build(variant, context, tag, resources)
    resources.drop(tag)

    # A one-line edit of one module, as a developer makes between two builds.
    views = context / slug / "core" / "views.py"
    code = []
    for attempt in range(1, code_rebuilds + 1):
        with views.open("a") as module:
            module.write(f"# bench: code-only edit {attempt}\n")
        tag = f"{repository}:code{attempt}"
        code.append(timed_build(variant, context, tag, resources))
        resources.drop(tag)
    log(f"{variant.name}: code-only rebuilds {', '.join(f'{s:.2f}' for s in code)} s")

    for name, content in dep_files.items():
        (context / name).write_bytes(content)
    tag = f"{repository}:deps"
    deps = timed_build(variant, context, tag, resources)
    resources.drop(tag)
    log(f"{variant.name}: dependency-change rebuild {deps:.1f} s")

    variant.figures.update(
        cold_build=cold, unchanged_rebuild=unchanged, code_rebuild=median(code), deps_rebuild=deps
    )
    variant.details["code_rebuilds"] = code


# ---- image sizes ---------------------------------------------------------------------------


def image_size(tag):
    return int(engine.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def run_once(resources, image, *command, env=None, network="none"):
    """A short-lived container (named, so an interrupted run still removes it)."""
    name = resources.container(resources.name(f"once-{uuid.uuid4().hex[:6]}"))
    env_args = [f"--env={key}={value}" for key, value in (env or {}).items()]
    try:
        return engine.docker(
            "run",
            f"--name={name}",
            f"--network={network}",
            *env_args,
            image,
            *command,
            timeout=300,
        ).stdout
    finally:
        resources.drop(name)


def du_bytes(resources, image, path):
    """Apparent size of a directory inside an image, as `docker image inspect` counts it."""
    output = run_once(resources, image, "du", "--summarize", "--bytes", path)
    return int(output.split()[0])


def installed_bytes(resources, image):
    """Apparent size of the directory pip installs into (Python's purelib; 0 if absent)."""
    script = (
        "dir=$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'); "
        'if [ -d "$dir" ]; then du --summarize --bytes "$dir"; else echo 0; fi'
    )
    return int(run_once(resources, image, "sh", "-c", script).split()[0])


def layers(tag):
    """(bytes, instruction) of every layer that adds more than 100 kB, oldest first."""
    history = engine.docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag
    ).stdout
    rows = []
    for line in reversed(history.strip().splitlines()):
        size, _, created_by = line.partition("\t")
        if int(size) > 100_000:
            created_by = re.sub(r"\s+", " ", created_by.removeprefix("/bin/sh -c ")).strip()
            rows.append((int(size), created_by[:110] or "(base image)"))
    return rows


def measure_sizes(variants, resources):
    base = image_size(BASE_IMAGE)
    for variant in variants:
        size = image_size(variant.image)
        variant.figures.update(image_size=size, over_base=size - base)
        variant.details["layers"] = layers(variant.image)
    # The irreducible part: the locked dependency set as installed (with bytecode), plus
    # the app's code, bytecode and collected static files. The dependencies are measured
    # as pip installs them, untrimmed: what the naive image adds to the base image's
    # site-packages. The template's own venv may be smaller, as its Dockerfile drops files
    # nothing reads at run time.
    template, _, naive = variants
    venv = installed_bytes(resources, naive.image) - installed_bytes(resources, BASE_IMAGE)
    shipped_venv = du_bytes(resources, template.image, "/opt/venv")
    app = du_bytes(resources, template.image, "/app")
    static = du_bytes(resources, template.image, "/app/staticfiles")
    return {"base": base, "venv": venv, "shipped_venv": shipped_venv, "app": app,
            "static": static, "total": venv + app}  # fmt: skip


# ---- HTTP probes and load --------------------------------------------------------------------


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


def port_of(base_url):
    return int(base_url.rsplit(":", 1)[1])


def wait_until_serving(base_url, deadline=120):
    """Liveness and readiness answer, and the home page renders from the database."""
    for path in ("/health/", "/health/ready/"):
        client.poll(
            lambda path=path: (
                client.request(base_url + path, headers=VIA_HTTPS, timeout=2).status == 200
            ),
            deadline,
            interval=0.1,
            what=f"200 from {path}",
        )
    home = client.request(base_url + "/", headers=VIA_HTTPS)
    if home.status != 200 or "users so far" not in home.text:
        raise RuntimeError(f"home page at {base_url}: {home.status} {home.text[:300]!r}")


def wrk(container, port, path, duration):
    """wrk on 127.0.0.1:`port` inside `container`'s own network namespace: requests/s,
    p50/p99 latency (ms) and every kind of error.

    Not through the port published on the host: on loopback that is docker-proxy, the
    engine's userland proxy, which costs most of a core at a few thousand connections per
    second and dials the container anew for each one. Its TIME_WAIT sockets on the bridge
    then cap new connections at about 28k a minute, which throttles any server that closes
    its connections (sync gunicorn, runserver) and makes each run depend on the one before.
    In its own namespace, every image (and nginx) is measured as a load balancer reaches it.
    """
    pid = engine.docker("inspect", "--format", "{{.State.Pid}}", container).stdout.strip()
    url = f"http://127.0.0.1:{port}{path}"
    command = wrk_command(url, VIA_HTTPS, CONNECTIONS, duration, timeout="2s")
    output = run(["nsenter", f"--target={pid}", "--net", *command], timeout=duration + 60).stdout
    figures = wrk_figures(output)
    result = {
        "rps": figures["rps"],
        "p50": figures["p50_ms"],
        "p99": figures["p99_ms"],
        "requests": figures["requests"],
        "error_kinds": {**figures["socket_error_kinds"], "non_2xx": figures["non_2xx_3xx"]},
    }
    # Failures only: read errors that are EOF-delimited complete responses are not.
    read_errors = result["error_kinds"]["read"] if eof_delimited(result) else 0
    result["errors"] = figures["failed"] - read_errors
    return result


def eof_delimited(result):
    """wrk counts a response that ends when the server closes the connection (no
    Content-Length, `Connection: close`) as a completed request *and* as a read error.
    Exactly one read error per completed request is that: the responses arrived whole."""
    return result["requests"] > 0 and result["error_kinds"]["read"] == result["requests"]


# ---- memory ------------------------------------------------------------------------------------


class Memory:
    """A container's memory as `docker stats` shows it (usage minus inactive file cache),
    read straight from its cgroup, so it can be sampled every 200 ms under load."""

    def __init__(self, container):
        self.container = container
        cid = engine.docker("inspect", "--format", "{{.Id}}", container).stdout.strip()
        candidates = [
            Path("/sys/fs/cgroup/memory/docker", cid),  # cgroup v1, cgroupfs driver
            Path("/sys/fs/cgroup/docker", cid),  # cgroup v2, cgroupfs driver
            Path("/sys/fs/cgroup/system.slice", f"docker-{cid}.scope"),  # v2, systemd
        ]
        self.cgroup = next((path for path in candidates if path.is_dir()), None)

    def sample(self):
        if self.cgroup is None:  # no cgroup files to read: ask the engine (slower)
            usage = engine.docker(
                "stats", "--no-stream", "--format", "{{.MemUsage}}", self.container
            ).stdout
            value, unit = re.match(r"([\d.]+)\s*([KMG]?i?B)", usage).groups()
            return float(value) * {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB}[unit]
        stat = dict(line.split() for line in (self.cgroup / "memory.stat").read_text().splitlines())
        if (self.cgroup / "memory.usage_in_bytes").exists():
            usage = int((self.cgroup / "memory.usage_in_bytes").read_text())
            return usage - int(stat.get("total_inactive_file", 0))
        usage = int((self.cgroup / "memory.current").read_text())
        return usage - int(stat.get("inactive_file", 0))

    def idle(self, settle=3.0):
        """Median of five samples once the container has sat idle for `settle` seconds."""
        time.sleep(settle)
        samples = []
        for _ in range(5):
            samples.append(self.sample())
            time.sleep(0.2)
        return median(samples)


class PeakMemory:
    """Samples a container's memory in the background; `peak` is the largest sample."""

    def __init__(self, memory, interval=0.2):
        self.memory, self.interval, self.peak = memory, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, self.memory.sample())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


def load_figures(container, port, memory, duration, figures):
    """Warm up, then wrk on liveness and on the home page while `memory` is sampled."""
    figures["mem_idle"] = memory.idle()
    wrk(container, port, "/", min(3, duration))  # warm-up: workers import, connect, cache
    with PeakMemory(memory) as peak:
        for label, path in (("health", "/health/"), ("home", "/")):
            log(f"  wrk {path} for {duration} s")
            figures[label] = wrk(container, port, path, duration)
    figures["mem_load"] = peak.peak


# ---- startup and shutdown ------------------------------------------------------------------


def parse_docker_time(value):
    """An engine timestamp (RFC 3339 with nanoseconds) as seconds since the epoch."""
    value = re.sub(r"(\.\d{6})\d*", r"\1", value.strip()).replace("Z", "+00:00")
    return datetime.fromisoformat(value).timestamp()


def first_200(variant, resources, network, env, attempt, command=(), path="/health/"):
    """Seconds from `docker run` to the first 200 from `path`; also when `docker run`
    returned, and how long the app took once its process had started.

    A new probe goes out every 10 ms, each on its own connection and thread, and the
    earliest 200 counts. Probing one at a time would not do: until the container's network
    is up, docker-proxy accepts a connection and then waits on its own dial, so a single
    probe would hang for its whole timeout while the app may already be answering."""
    port = free_port()
    name = resources.container(resources.name(f"{variant.name}-start{attempt}"))
    docker_run = [
        "docker",
        "run",
        "--detach",
        f"--name={name}",
        f"--network={network}",
        f"--publish=127.0.0.1:{port}:8000",
        *[f"--env={key}={value}" for key, value in env.items()],
        variant.image,
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
                    raise RuntimeError(f"docker run {variant.image}: {process.stderr.read()}")
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
        return {
            "first_200": answered_at - start,
            "run_returned": returned,
            "app_boot": answered_wall - parse_docker_time(started),
        }
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        resources.drop(name)


@dataclass
class Attempt:
    start: float
    end: float
    outcome: str


def stop_under_load(container, port, path="/"):
    """`docker stop` while STOP_CLIENTS clients send requests without pause, each on a fresh
    connection. Returns how long the stop took and what happened to the requests: those in
    flight when the stop began, and those sent after it (which no server may be left to
    accept; they show what a client sees, not a drain failure)."""
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

    def tally(selected):
        return {
            "total": len(selected),
            "failed": sum(a.outcome != "200" for a in selected),
            "kinds": dict(Counter(a.outcome for a in selected if a.outcome != "200")),
        }

    return {
        "seconds": stop_seconds,
        "before": tally([a for a in attempts if a.end < stop_began]),
        "in_flight": tally([a for a in attempts if a.start < stop_began <= a.end]),
        "after": tally([a for a in attempts if a.start >= stop_began]),
    }


def engine_floor(resources, network, runs):
    """What the engine itself costs, with no app at all: `docker run` to the first 200
    from `python -m http.server` in the base image, and `docker stop` of a process that
    exits the moment it gets SIGTERM. No image can start or stop faster than this here."""
    base = Variant("floor", None, image=BASE_IMAGE)
    server = ("python3", "-m", "http.server", "8000")
    starts = [
        first_200(base, resources, network, {}, attempt, command=server, path="/")
        for attempt in range(1, runs + 1)
    ]
    exits_on_term = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); time.sleep(3600)"
    )
    stops = []
    for attempt in range(1, 4):
        name = resources.container(resources.name(f"floor-stop{attempt}"))
        engine.docker(
            "run", "--detach", f"--name={name}", BASE_IMAGE, "python3", "-c", exits_on_term
        )
        time.sleep(0.5)  # let it reach its sleep
        start = time.perf_counter()
        engine.docker("stop", name)
        stops.append(time.perf_counter() - start)
        resources.drop(name)
    return {
        "first_200": median([s["first_200"] for s in starts]),
        "run_returned": median([s["run_returned"] for s in starts]),
        "stop": median(stops),
    }


# ---- the direct runs: each image alone, with a Postgres on a user-defined network --------


def start_database(resources, network, env):
    name = resources.container(resources.name("db"))
    engine.docker(
        "run",
        "--detach",
        f"--name={name}",
        f"--network={network}",
        "--network-alias=db",
        "--env=POSTGRES_USER=bench",
        f"--env=POSTGRES_PASSWORD={env['password']}",
        "--env=POSTGRES_DB=bench",
        OFFICIAL_IMAGES["POSTGRES_IMAGE"],
    )
    # Over TCP: the entrypoint's initialisation server listens on its socket only.
    client.poll(
        lambda: (
            engine.docker(
                "exec",
                name,
                "pg_isready",
                "--host=127.0.0.1",
                "--username=bench",
                "--dbname=bench",
                check=False,
            ).returncode
            == 0
        ),
        120,
        interval=0.25,
        what="Postgres accepting connections",
    )


def measure_direct(variant, resources, network, app_env, duration, startup_runs):
    log(f"{variant.name}: first 200 after docker run, {startup_runs} runs")
    starts = [
        first_200(variant, resources, network, app_env, attempt)
        for attempt in range(1, startup_runs + 1)
    ]
    variant.details["starts"] = starts
    variant.figures["first_200"] = median([s["first_200"] for s in starts])

    name = resources.container(resources.name(f"{variant.name}-web"))
    with engine.running(variant.image, app_env, f"--name={name}", f"--network={network}") as web:
        wait_until_serving(web.base_url)
        log(f"{variant.name}: load on its own port 8000")
        load_figures(name, 8000, Memory(name), duration, variant.figures)
        log(f"{variant.name}: docker stop under load")
        variant.details["stop"] = stop_under_load(name, port_of(web.base_url))
    resources.drop(name)


# ---- the template's own production stack, through nginx ------------------------------------


def measure_stack(variant, project, proxy_image, resources, duration):
    """compose.prod.yaml with `variant`'s image as web, behind the template's nginx."""
    port = free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": resources.name(f"stack-{variant.name}"),
        "APP_IMAGE": variant.image,
        "PROXY_IMAGE": proxy_image,
        "HTTP_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(port),
    }

    def compose(*args, check=True):
        command = ["docker", "compose", "--file", "compose.prod.yaml", *args]
        if check:
            return run(command, cwd=project, env=env, timeout=600)
        return subprocess.run(command, cwd=project, env=env, capture_output=True, timeout=600)

    key = resources.add(
        env["COMPOSE_PROJECT_NAME"],
        lambda: compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False),
    )
    log(f"{variant.name} stack: compose.prod.yaml up (prebuilt images, nothing pulled)")
    compose("up", "--detach", "--wait", "--no-build", "--pull", "never")
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(base_url)
    web = compose("ps", "--quiet", "web").stdout.strip()
    nginx = compose("ps", "--quiet", "nginx").stdout.strip()
    figures = {}
    log(f"{variant.name} stack: load through nginx")
    load_figures(nginx, 80, Memory(web), duration, figures)
    log(f"{variant.name} stack: docker stop web under load, through nginx")
    stop = stop_under_load(web, port)
    resources.drop(key)
    return figures, stop


# ---- the machine ---------------------------------------------------------------------------


def installed_wrk():
    """The version of Debian's wrk package on this host, or "" when it is not installed."""
    return subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Version}", WRK_PACKAGE],
        capture_output=True,
        text=True,
    ).stdout


def ensure_wrk():
    installed = installed_wrk()
    if installed == WRK_VERSION and shutil.which("wrk"):
        return
    if installed:
        log(f"note: wrk {installed} is installed, not the pinned {WRK_VERSION}; using it")
        return
    log(f"installing {WRK_PACKAGE}={WRK_VERSION}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "--yes", "--quiet", f"{WRK_PACKAGE}={WRK_VERSION}"]
    if subprocess.run(install, env=apt_env, capture_output=True).returncode != 0:
        run(["apt-get", "update", "--quiet"], env=apt_env)
        run(install, env=apt_env)


def preflight():
    if os.geteuid() != 0 or not shutil.which("nsenter"):
        raise RuntimeError(
            "run as root with nsenter (util-linux): wrk runs in each container's namespace"
        )
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise RuntimeError("no Docker engine: start one with `bash .ci/provision-engine.sh`")
    for image in REQUIRED_IMAGES:
        if engine.docker("image", "inspect", image, check=False).returncode != 0:
            raise RuntimeError(
                f"{image} is not local: build it with `bash tests/standins/build.sh`"
            )
    ensure_wrk()


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1]) * 1024
    os_release = Path("/etc/os-release").read_text()

    def docker_out(*args):
        return engine.docker(*args, check=False).stdout.strip()

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{len(os.sched_getaffinity(0))} cores ({model[1] if model else 'unknown CPU'})",
        "memory": f"{memory / 1024**3:.1f} GiB",
        "os": re.search(r'PRETTY_NAME="(.+)"', os_release)[1] + f", kernel {platform.release()}",
        "engine": docker_out(
            "version", "--format", "Docker Engine {{.Server.Version}}, client {{.Client.Version}}"
        ),
        "storage": docker_out("info", "--format", "{{.Driver}}, cgroup v{{.CgroupVersion}}"),
        "plugins": f"{docker_out('buildx', 'version')}; {docker_out('compose', 'version')}",
        "wrk": f"wrk {installed_wrk()} (Debian), 2 threads, {CONNECTIONS} connections",
        "base": f"{BASE_IMAGE} "
        + docker_out("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE)[7:19],
    }


# ---- report ------------------------------------------------------------------------------------


def formatter(spec, unit=1):
    """A cell formatter: the value in `unit`s, with a format() spec."""
    return lambda value: format(value / unit if unit != 1 else value, spec)


fmt_seconds = formatter(".2f")
fmt_mb = formatter(".1f", MB)
fmt_mib = formatter(".0f", MIB)
fmt_ms = formatter(".1f")
fmt_rps = formatter(".0f")
fmt_int = formatter("d")


def ratio(a, b):
    if not b:
        return "—" if a else "="
    return f"{a / b:.2f}×"


def comparison_rows(variants):
    """(figure, values, formatter): one row per figure, one value per variant."""

    def fig(key, sub=None):
        return [v.figures[key][sub] if sub else v.figures[key] for v in variants]

    def stop(part, what):
        return [v.details["stop"][part][what] for v in variants]

    rows = [
        ("image size (MB)", fig("image_size"), fmt_mb),
        ("bytes over base image (MB)", fig("over_base"), fmt_mb),
        ("cold build (s)", fig("cold_build"), fmt_seconds),
        ("rebuild with nothing changed (s)", fig("unchanged_rebuild"), fmt_seconds),
        ("code-only rebuild (s, median)", fig("code_rebuild"), fmt_seconds),
        ("dependency-change rebuild (s)", fig("deps_rebuild"), fmt_seconds),
        ("docker run → first 200 (s, median)", fig("first_200"), fmt_seconds),
    ]
    for label, key in (("/health/", "health"), ("/ (home)", "home")):
        rows += [
            (f"{label} direct: req/s", fig(key, "rps"), fmt_rps),
            (f"{label} direct: p50 (ms)", fig(key, "p50"), fmt_ms),
            (f"{label} direct: p99 (ms)", fig(key, "p99"), fmt_ms),
            (f"{label} direct: errors", fig(key, "errors"), fmt_int),
        ]
    rows += [
        ("memory idle (MiB)", fig("mem_idle"), fmt_mib),
        ("memory under load (MiB, peak)", fig("mem_load"), fmt_mib),
        (
            "docker stop under load (s)",
            [v.details["stop"]["seconds"] for v in variants],
            fmt_seconds,
        ),
        ("failed in-flight requests", stop("in_flight", "failed"), fmt_int),
        ("  (requests in flight at stop)", stop("in_flight", "total"), fmt_int),
        ("failed requests sent after stop began", stop("after", "failed"), fmt_int),
        ("  (requests sent after stop began)", stop("after", "total"), fmt_int),
    ]
    return rows


def nginx_rows(stacks, variants):
    """The template and typical behind nginx, next to each image direct to its app server."""
    (stack, stack_stop), (typical, typical_stop) = stacks["template"], stacks["typical"]
    rows = []
    for label, key in (("/health/", "health"), ("/ (home)", "home")):
        for measure, formatter in (
            ("rps", fmt_rps),
            ("p50", fmt_ms),
            ("p99", fmt_ms),
            ("errors", fmt_int),
        ):
            unit = {"rps": "req/s", "p50": "p50 (ms)", "p99": "p99 (ms)", "errors": "errors"}
            direct = [v.figures[key][measure] for v in variants]
            via = [stack[key][measure], typical[key][measure]]
            rows.append((f"{label} {unit[measure]}", [*via, *direct], formatter))
    rows += [
        (
            "web memory idle (MiB)",
            [stack["mem_idle"], typical["mem_idle"], *[v.figures["mem_idle"] for v in variants]],
            fmt_mib,
        ),
        (
            "web memory under load (MiB, peak)",
            [stack["mem_load"], typical["mem_load"], *[v.figures["mem_load"] for v in variants]],
            fmt_mib,
        ),
        (
            "docker stop web under load (s)",
            [
                stack_stop["seconds"],
                typical_stop["seconds"],
                *[v.details["stop"]["seconds"] for v in variants],
            ],
            fmt_seconds,
        ),
        (
            "failed in-flight requests",
            [
                stack_stop["in_flight"]["failed"],
                typical_stop["in_flight"]["failed"],
                *[v.details["stop"]["in_flight"]["failed"] for v in variants],
            ],
            fmt_int,
        ),
    ]
    return rows


def table(header, rows, ratio_columns):
    """Rows as lists of strings: the first value column is divided by each of the others."""
    out = []
    for label, values, formatter in rows:
        cells = [label, *[formatter(v) for v in values]]
        cells += [ratio(values[0], values[i]) for i in ratio_columns]
        out.append(cells)
    return [header, *out]


def render_text(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            row[0].ljust(widths[0]),
            *[c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)],
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows):
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" + "---:|" * (len(rows[0]) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def targets(variants, irreducible, stack, stack_stop):
    """The project's targets for the template, each as (target, measured, met?)."""
    template, typical, _ = variants
    t, y = template.figures, typical.figures
    stop = template.details["stop"]

    def megabytes(size):
        return f"{fmt_mb(size)} MB"

    def seconds(duration):
        return f"{duration:.2f} s"

    def relative(label, value, limit, reference, reference_name, show):
        """The target `value ≤ limit × reference`, with the ratio measured."""
        measured = f"{show(value)} = {value / reference:.2f} × {reference_name} {show(reference)}"
        return (label, measured, value <= limit * reference)

    rows = [
        relative("bytes over base ≤ 0.4 × typical's", t["over_base"], 0.4, y["over_base"],
                 "typical's", megabytes),
        relative("bytes over base ≤ 1.15 × irreducible", t["over_base"], 1.15,
                 irreducible["total"], "irreducible", megabytes),
        ("code-only rebuild ≤ 1 s", seconds(t["code_rebuild"]), t["code_rebuild"] <= 1),
        relative("code-only rebuild ≤ 5 % of own cold build", t["code_rebuild"], 0.05,
                 t["cold_build"], "own cold build", seconds),
        relative("cold build ≤ 0.5 × typical's", t["cold_build"], 0.5, y["cold_build"],
                 "typical's", seconds),
        ("first 200 ≤ 0.5 s after docker run", seconds(t["first_200"]), t["first_200"] <= 0.5),
    ]  # fmt: skip
    for label, key in (("/health/", "health"), ("/", "home")):
        via, direct = stack[key], y[key]
        rows += [
            (
                f"through nginx {label}: req/s ≥ typical direct",
                f"{via['rps']:.0f} vs {direct['rps']:.0f} ({via['rps'] / direct['rps']:.2f}×)",
                via["rps"] >= direct["rps"],
            ),
            (f"through nginx {label}: p99 < 50 ms", f"{via['p99']:.1f} ms", via["p99"] < 50),
            (f"through nginx {label}: 0 errors", f"{via['errors']}", via["errors"] == 0),
        ]
    rows += [
        ("docker stop under load ≤ 1 s (direct)", f"{stop['seconds']:.2f} s", stop["seconds"] <= 1),
        (
            "0 failed in-flight requests (direct)",
            f"{stop['in_flight']['failed']} of {stop['in_flight']['total']}",
            stop["in_flight"]["failed"] == 0,
        ),
        (
            "docker stop under load ≤ 1 s (stack web)",
            f"{stack_stop['seconds']:.2f} s",
            stack_stop["seconds"] <= 1,
        ),
        (
            "0 failed in-flight requests (stack, via nginx)",
            f"{stack_stop['in_flight']['failed']} of {stack_stop['in_flight']['total']}",
            stack_stop["in_flight"]["failed"] == 0,
        ),
    ]
    return rows


def report(info, variants, irreducible, floor, stacks, args, elapsed):
    stack, stack_stop = stacks["template"]
    names = [v.name for v in variants]
    main_rows = table(
        ["figure", *names, "template/typical", "template/naive"],
        comparison_rows(variants),
        ratio_columns=[1, 2],
    )
    via_rows = table(
        [
            "behind nginx vs direct",
            "template via nginx",
            "typical via nginx",
            *[f"{n} direct" for n in names],
            "template nginx/typical nginx",
            "template nginx/typical direct",
        ],
        nginx_rows(stacks, variants),
        ratio_columns=[1, 3],
    )
    irreducible_line = (
        f"irreducible part: dependencies as installed {fmt_mb(irreducible['venv'])} MB + app "
        f"{fmt_mb(irreducible['app'])} MB (of which static {fmt_mb(irreducible['static'])} MB)"
        f" = {fmt_mb(irreducible['total'])} MB; template's bytes over base / irreducible = "
        f"{variants[0].figures['over_base'] / irreducible['total']:.3f} (the template's venv, "
        f"trimmed: {fmt_mb(irreducible['shipped_venv'])} MB)"
    )
    floor_line = (
        f"engine floor (base image, no app): docker run → first 200 "
        f"{fmt_seconds(floor['first_200'])} s (`docker run` itself returned after "
        f"{fmt_seconds(floor['run_returned'])} s), docker stop {fmt_seconds(floor['stop'])} s"
    )
    target_rows = targets(variants, irreducible, stack, stack_stop)
    measured = [(f"{v.name} direct", v.figures) for v in variants] + [
        (f"{name} via nginx", figures) for name, (figures, _) in stacks.items()
    ]
    notes = [
        f"note: {who} {path}: not counted as errors, wrk's "
        f"{figures[key]['error_kinds']['read']} read errors, one per response: each ends at "
        "connection close (no Content-Length) and arrived complete."
        for who, figures in measured
        for key, path in (("health", "/health/"), ("home", "/"))
        if eof_delimited(figures[key])
    ]

    # stdout: the tables, plainly.
    print()
    print(render_text(main_rows))
    print()
    print(render_text(via_rows))
    print()
    for note in notes:
        print(note)
    print(irreducible_line)
    print(floor_line)
    print()
    width = max(len(t[0]) for t in target_rows)
    for target, measured, met in target_rows:
        print(f"{'MET   ' if met else 'MISSED'}  {target.ljust(width)}  {measured}")
    print(f"\ntotal runtime {elapsed / 60:.1f} min; written to {RESULTS.relative_to(REPO)}")

    # RESULTS.md: the same, with the machine and the details behind each figure.
    md = [
        "# Benchmark results",
        "",
        "Produced by `python bench/run.py` (method: [README.md](README.md)); every figure in "
        "one run, on the same baked code and the same base image.",
        "",
        *[f"- **{key}**: {value}" for key, value in info.items()],
        f"- **settings**: wrk {args.duration} s per run, first-200 median of "
        f"{args.startup_runs} runs, code-only rebuild median of {args.code_rebuilds}",
        f"- **total runtime**: {elapsed / 60:.1f} min",
        "",
        "Stand-in images (see tests/standins/): sizes differ from Docker Hub's, ratios are "
        "what matters. MB = 10⁶ bytes, MiB = 2²⁰ bytes. Direct runs: each image alone on a "
        "user-defined network with one Postgres 17; requests carry `Host: example.com` and "
        "`X-Forwarded-Proto: https` (prod settings, HTTPS redirect on).",
        "",
        "## Side by side",
        "",
        render_markdown(main_rows),
        "",
        "## Behind nginx (compose.prod.yaml, the template's nginx), next to each image direct",
        "",
        render_markdown(via_rows),
        "",
        *[f"{note}\n" for note in notes],
        "## Irreducible part",
        "",
        irreducible_line + ".",
        "",
        "## Engine floor",
        "",
        floor_line + ": `python -m http.server` in the base image for the first, a process "
        "that exits at once on SIGTERM for the second. No image starts or stops faster here.",
        "",
        "## Targets (template)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *[f"| {t} | {m} | {'met' if ok else '**missed**'} |" for t, m, ok in target_rows],
        "",
        "## Details",
        "",
    ]
    for v in variants:
        starts = v.details["starts"]
        stop = v.details["stop"]
        md += [
            f"### {v.name}",
            "",
            "- code-only rebuilds (s): "
            + ", ".join(fmt_seconds(s) for s in v.details["code_rebuilds"]),
            "- docker run → first 200 (s): "
            + ", ".join(fmt_seconds(s["first_200"]) for s in starts)
            + "; `docker run` returned after (s): "
            + ", ".join(fmt_seconds(s["run_returned"]) for s in starts)
            + "; container start → first 200 (s): "
            + ", ".join(fmt_seconds(s["app_boot"]) for s in starts),
            f"- wrk /health/: {wrk_summary(v.figures['health'])}; "
            f"wrk /: {wrk_summary(v.figures['home'])}",
            f"- docker stop: {stop_summary(stop)}",
            "- layers over 100 kB (bytes, instruction):",
            *[f"  - {size / MB:.1f} MB `{what}`" for size, what in v.details["layers"]],
            "",
        ]
    for name, (figures, stop) in stacks.items():
        md += [
            f"### {name} via nginx",
            "",
            f"- wrk /health/: {wrk_summary(figures['health'])}; "
            f"wrk /: {wrk_summary(figures['home'])}",
            f"- docker stop web: {stop_summary(stop)}",
            "",
        ]
    RESULTS.write_text("\n".join(md))


def wrk_summary(result):
    kinds = ", ".join(f"{kind} {n}" for kind, n in result["error_kinds"].items() if n)
    note = " (the read errors: EOF-delimited complete responses, see README)"
    note = note if eof_delimited(result) else ""
    return f"{result['requests']} requests, errors: {kinds or 'none'}{note}"


def stop_summary(stop):
    parts = []
    for part, label in (
        ("before", "before the stop"),
        ("in_flight", "in flight at the stop"),
        ("after", "sent after the stop began"),
    ):
        tally = stop[part]
        kinds = (
            f" ({', '.join(f'{k}: {n}' for k, n in tally['kinds'].items())})"
            if tally["kinds"]
            else ""
        )
        parts.append(f"{label} {tally['total'] - tally['failed']}/{tally['total']} ok{kinds}")
    return f"{stop['seconds']:.2f} s; " + "; ".join(parts)


# ---- main ----------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run (15)")
    parser.add_argument("--startup-runs", type=int, default=5, help="first-200 runs (5)")
    parser.add_argument("--code-rebuilds", type=int, default=3, help="code-only rebuilds (3)")
    return parser.parse_args()


def main():
    args = parse_args()
    # `docker stop`/Ctrl-C/SIGTERM: leave through the finally below, which cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    resources = Resources()
    variants = [
        Variant("template", None, target="runtime"),
        Variant("typical", BASELINES / "typical.Dockerfile"),
        Variant("naive", BASELINES / "naive.Dockerfile"),
    ]
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        preflight()
        info = machine()
        log(f"run {resources.run_id}: baking the template with its default answers")
        pristine = bake(workdir)
        export_requirements(pristine)
        slug = pristine.name
        log(f"dependency change: adding {EXTRA_DEPENDENCY} and re-locking with uv")
        dep_files = dependency_change(pristine, workdir)

        for variant in variants:
            measure_builds(
                variant, pristine, slug, dep_files, workdir, resources, args.code_rebuilds
            )
            if variant.name == "template":  # the stack's proxy image, from the warm cache
                proxy = f"{resources.run_id}/template-nginx:cold"
                timed_build(variant, pristine, proxy, resources, target="nginx")
        irreducible = measure_sizes(variants, resources)

        network = resources.add(
            resources.name("net"),
            lambda: engine.docker("network", "rm", resources.name("net"), check=False),
        )
        engine.docker("network", "create", network)
        # The same production settings and secrets for all three; the host name the bake
        # allows. Postgres is reached by its alias on the network, like compose's `db`.
        password = secrets.token_urlsafe(16)
        app_env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": f"{PUBLIC_HOST},localhost,127.0.0.1",
            "DATABASE_URL": f"postgres://bench:{password}@db:5432/bench",
        }
        log("Postgres for the direct runs, migrated once with the template image")
        start_database(resources, network, {"password": password})
        run_once(
            resources,
            variants[0].image,
            "python",
            "manage.py",
            "migrate",
            "--noinput",
            env=app_env,
            network=network,
        )
        log("engine floors: docker run and docker stop with no app")
        floor = engine_floor(resources, network, args.startup_runs)
        for variant in variants:
            measure_direct(variant, resources, network, app_env, args.duration, args.startup_runs)

        # The template behind its nginx; and typical's image in its place, so the cost of
        # the proxy itself shows apart from the app server behind it.
        stacks = {
            variant.name: measure_stack(variant, pristine, proxy, resources, args.duration)
            for variant in variants[:2]
        }
        report(
            info,
            variants,
            irreducible,
            floor,
            stacks,
            args,
            time.perf_counter() - STARTED,
        )
        return 0
    except (RuntimeError, AssertionError, subprocess.TimeoutExpired) as error:
        log(f"benchmark failed: {error}")
        return 1
    finally:
        log("cleaning up")
        resources.release()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
