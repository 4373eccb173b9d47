"""Faults stage: load the running prod stack through nginx, break its parts one at a time,
and measure what survives. Loopback only; the `prod` fixture always takes the stack down.

Every figure measured is printed and kept in artifacts/faults.json.
"""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import client, engine
from harness.figures import record_figures
from harness.load import Load, wrk
from harness.stacks import VIA_HTTPS
from harness.template import project_secrets

WRK_SECONDS = 60
# Workers fill their caches and connection pools in the first seconds of load; memory is
# measured from then on.
WARM_UP_SECONDS = 15
WRK_CONNECTIONS = 64
# Answered by the other workers after one is killed, before it may be replaced.
SERVED_WITHOUT_REPLACEMENT = 100
# Python processes grow a little as caches fill; a leak grows with every request.
RSS_GROWTH_LIMIT_MIB = 16


@pytest.fixture(scope="module")
def option_set():
    """Faults depend on the stack's shape, not on its options: the default bake only."""
    return "default"


def web_rss_mib(stack):
    """Resident anonymous memory of every process in web, from its cgroup (page cache,
    which the kernel reclaims at will, left out)."""
    stat = stack.compose(
        "exec", "-T", "web", "sh", "-c",
        "cat /sys/fs/cgroup/memory.stat 2>/dev/null || cat /sys/fs/cgroup/memory/memory.stat",
    ).stdout  # fmt: skip
    fields = dict(line.split() for line in stat.splitlines())
    return int(fields.get("anon") or fields["total_rss"]) / 2**20  # cgroup v2, else v1


def web_log(stack, since):
    """web's log from `since` (an aware datetime) on: the whole log, after the load tests'
    access lines, takes seconds to read."""
    return stack.compose("logs", "--no-log-prefix", "--since", since.isoformat(), "web").stdout


def gunicorn_processes(stack):
    """Host PIDs of web's gunicorn master (the child of the container's init) and of its
    workers (the master's children)."""
    (container,) = stack.containers("web")
    rows = engine.docker("top", container, "-o", "pid,ppid,args").stdout.splitlines()[1:]
    processes = [row.split(None, 2) for row in rows]

    def children(of):
        return [pid for pid, parent, _ in processes if parent == of]

    (init,) = [pid for pid, _, args in processes if args.startswith("/sbin/docker-init")]
    (master,) = children(init)
    return int(master), {int(pid) for pid in children(master)}


@contextmanager
def stopped(pid, then=signal.SIGCONT):
    """The process (every thread of it) stopped while the block runs; sent `then` after."""
    os.kill(pid, signal.SIGSTOP)
    try:
        tasks = Path(f"/proc/{pid}/task")

        def all_stopped():
            return all((task / "stat").read_text().rpartition(")")[2].split()[0] == "T"
                       for task in tasks.iterdir())  # fmt: skip

        client.poll(all_stopped, 30, what=f"process {pid} stopped")
        yield
    finally:
        os.kill(pid, then)


def accepted_connections(pid):
    """Clients' TCP connections the process holds open: the established ones, among its
    file descriptors, on a port it listens on (not its own, to the database)."""
    proc = Path(f"/proc/{pid}")
    links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
    inodes = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    # Columns: local address:port (hex), state (0A listening, 01 established), and the
    # socket's inode at 9 (proc_net_tcp(5)).
    sockets = [
        (row[1].rpartition(":")[2], row[3])
        for table in ("tcp", "tcp6")
        for line in (proc / "net" / table).read_text().splitlines()[1:]
        if (row := line.split())[9] in inodes
    ]
    listening = {port for port, state in sockets if state == "0A"}
    return sum(state == "01" and port in listening for port, state in sockets)


@pytest.mark.parametrize("path", ["/health/", "/"], ids=["liveness", "db-page"])
def test_load_through_nginx_gets_only_200s_and_web_memory_stays_flat(prod, path):
    rss_cold = web_rss_mib(prod)
    wrk(prod.base_url + path, VIA_HTTPS, WRK_CONNECTIONS, WARM_UP_SECONDS)
    rss_start = web_rss_mib(prod)
    figures = wrk(prod.base_url + path, VIA_HTTPS, WRK_CONNECTIONS, WRK_SECONDS)
    rss_end = web_rss_mib(prod)
    figures |= {
        "rss_cold_mib": round(rss_cold, 1),
        "rss_start_mib": round(rss_start, 1),
        "rss_end_mib": round(rss_end, 1),
    }
    record_figures("faults", f"wrk {path} {WRK_CONNECTIONS} connections {WRK_SECONDS} s", **figures)
    assert figures["requests"] > WRK_SECONDS * 10
    # A redirect counts as failed too (harness/wrk_non_200.lua).
    assert figures["failed"] == 0, figures
    assert rss_end - rss_start < RSS_GROWTH_LIMIT_MIB


def test_app_serves_from_a_read_only_root_and_uploads_land_on_the_media_volume(prod):
    config = json.loads(prod.inspect("web", "{{json .HostConfig}}"))
    assert config["ReadonlyRootfs"] is True
    assert set(config["Tmpfs"]) == {"/tmp"}  # noqa: S108 (the container's, not ours)
    assert prod.get("/").status == 200

    saved = prod.compose(
        "exec", "-T", "web", "python", "manage.py", "shell", "--verbosity=0", "-c",
        "from django.core.files.base import ContentFile;"
        "from django.core.files.storage import default_storage;"
        "print(default_storage.save('faults/upload.txt', ContentFile(b'uploaded')))",
    ).stdout.strip()  # fmt: skip
    volume = f"{prod.name}_media"
    assert volume in prod.inspect("web", "{{range .Mounts}}{{.Name}} {{end}}").split()
    seen = engine.docker(
        "run", "--rm", "--pull", "never", f"--volume={volume}:/media:ro",
        "--entrypoint", "cat", prod.env["APP_IMAGE"], f"/media/{saved}",
    ).stdout  # fmt: skip
    assert seen == "uploaded"

    elsewhere = prod.compose(
        "exec", "-T", "web", "sh", "-c", "touch /app/upload.txt || touch /upload.txt", check=False
    )
    assert elsewhere.returncode != 0 and "Read-only file system" in elsewhere.stderr


def test_database_outage_fails_readiness_only_and_heals_without_restarting_web(prod):
    web_before = prod.inspect("web", "{{.State.StartedAt}} {{.RestartCount}}")
    secrets = list(project_secrets(prod.project).values())
    try:
        with Load(prod.base_url + "/health/", VIA_HTTPS) as liveness:
            liveness.wait_for(20)
            stopping = time.monotonic()
            prod.compose("stop", "db")
            client.poll(lambda: prod.get("/health/ready/").status == 503, 30, what="ready 503")
            seconds_to_503 = time.monotonic() - stopping

            page = prod.get("/")
            assert page.status == 500
            assert page.headers["Content-Type"].startswith("text/html")
            # The project's own error page, as the bake has it.
            error_page = prod.project / prod.project.name / "core/templates/500.html"
            assert page.text == error_page.read_text()
            for body in (page.text, prod.get("/health/ready/").text):
                assert "Traceback" not in body
                assert not [secret for secret in secrets if secret in body]

            starting = time.monotonic()
            prod.compose("start", "db")
            client.poll(lambda: prod.get("/health/ready/").status == 200, 60, what="ready 200")
            seconds_to_200 = time.monotonic() - starting
            liveness.wait_for(20)
        # Every worker thread's kept connection died with the database: each must reconnect.
        pages = [prod.get("/").status for _ in range(40)]
    finally:
        prod.up("db")
    summary = liveness.summary()
    record_figures(
        "faults",
        "database stopped and started",
        seconds_to_ready_503=round(seconds_to_503, 2),
        seconds_to_ready_200=round(seconds_to_200, 2),
        liveness_requests=summary["requests"],
        liveness_failed=summary["failed"],
        pages_after=len(pages),
        pages_after_failed=sum(status != 200 for status in pages),
    )
    assert summary["failed"] == 0, liveness.failures()[:5]
    assert set(pages) == {200}
    assert prod.inspect("web", "{{.State.StartedAt}} {{.RestartCount}}") == web_before


def test_a_killed_worker_loses_only_what_it_held_and_is_replaced(prod):
    """The master is stopped around the kill, so no replacement can start: whatever answers
    meanwhile is the other workers. (A stack with a single worker has none, and fails.)"""
    master, workers = gunicorn_processes(prod)
    victim = min(workers)
    with Load(prod.base_url + "/", VIA_HTTPS, clients=8) as load:
        load.wait_for(50)
        with stopped(master):
            stopping = time.monotonic()
            # Stopped first, it takes no more connections: what it holds when killed is this.
            with stopped(victim, then=signal.SIGKILL):
                held = accepted_connections(victim)
            killed = time.monotonic()
            load.wait_for_successes(SERVED_WITHOUT_REPLACEMENT, started_after=killed, deadline=60)
            seconds_served = time.monotonic() - killed
        resumed = time.monotonic()

        def replaced():
            _, now = gunicorn_processes(prod)
            return victim not in now and len(now) == len(workers)

        client.poll(replaced, 60, interval=0.2, what="a new worker in place of the killed one")
        seconds_to_replace = time.monotonic() - resumed
        load.wait_for(200)
    summary = load.summary()
    lost = load.failures()
    record_figures(
        "faults",
        "gunicorn worker killed with SIGKILL",
        workers=len(workers),
        connections_held_by_killed=held,
        in_flight_at_kill=sum(o.started < killed < o.ended for o in load.outcomes),
        seconds_to_serve_without_it=round(seconds_served, 2),
        seconds_to_replace=round(seconds_to_replace, 2),
        requests=summary["requests"],
        failed=summary["failed"],
        statuses=summary["statuses"],
    )
    # Only requests the killed worker held: sent before it died, failed after it stopped.
    assert len(lost) <= held, lost
    assert all(o.started < killed and o.ended > stopping for o in lost), lost


def test_stopping_web_drains_in_flight_requests_and_exits_zero(prod):
    """Requests are held in flight by pausing the database under them; web is stopped
    while they wait, and the database resumes only once gunicorn has had its SIGTERM."""
    _, workers = gunicorn_processes(prod)
    try:
        with Load(prod.base_url + "/", VIA_HTTPS, clients=8) as load, ThreadPoolExecutor() as pool:
            load.wait_for(50)
            prod.compose("pause", "db")
            since = datetime.now(UTC)
            stopping = time.monotonic()
            stopped = pool.submit(prod.compose, "stop", "web")
            client.poll(
                lambda: "Handling signal: term" in web_log(prod, since),
                30, interval=0.1, what="gunicorn got SIGTERM",
            )  # fmt: skip
            terminated = time.monotonic()
            prod.compose("unpause", "db")
            stopped.result(timeout=60)
            seconds_to_stop = time.monotonic() - stopping
        exit_code = prod.inspect("web", "{{.State.ExitCode}}")
        # Each worker says so as it leaves by itself; one killed at graceful_timeout cannot.
        workers_exited = web_log(prod, since).count("Worker exiting")
    finally:
        prod.compose("unpause", "db", check=False)
        prod.up("--no-deps", "web")
    # Held by the paused database until after the SIGTERM: every one must still succeed.
    in_flight = [o for o in load.outcomes if o.started < stopping and o.ended > terminated]
    record_figures(
        "faults",
        "docker compose stop web with requests in flight",
        seconds_to_stop=round(seconds_to_stop, 2),
        exit_code=int(exit_code),
        workers=len(workers),
        workers_exited=workers_exited,
        in_flight_through_sigterm=len(in_flight),
        in_flight_failed=sum(not o.ok for o in in_flight),
        failed_before_stop=len(load.failures(started_before=stopping)),
        refused_after_stop=len(load.failures(started_after=stopping)),
    )
    assert load.failures(started_before=stopping) == []
    assert in_flight, "no request was in flight when web got SIGTERM"
    assert exit_code == "0"
    assert workers_exited == len(workers)


def test_nginx_answers_a_plain_503_while_web_is_down_and_recovers_without_a_restart(prod):
    nginx_started = prod.inspect("nginx", "{{.State.StartedAt}}")
    try:
        prod.compose("stop", "web")
        down = prod.get("/")
        prod.compose("start", "web")
        back = time.monotonic()
        client.poll(lambda: prod.get("/").status == 200, 60, interval=0.2, what="home 200")
        seconds_to_200 = time.monotonic() - back
    finally:
        prod.up("--no-deps", "web")
    record_figures(
        "faults",
        "nginx while web is down",
        status=down.status,
        seconds_to_200=round(seconds_to_200, 2),
    )
    assert down.status == 503
    assert down.headers["Content-Type"] == "text/html"
    assert "<h1>Service unavailable</h1>" in down.text
    assert prod.inspect("nginx", "{{.State.StartedAt}}") == nginx_started


def test_nginx_follows_web_recreated_on_another_address(prod):
    """A redeploy recreates web; if its old address was taken meanwhile (here by a one-off
    `compose run`), web comes back elsewhere and nginx must find it there."""
    nginx_started = prod.inspect("nginx", "{{.State.StartedAt}}")
    address = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    old_address = prod.inspect("web", address)
    one_off = None
    try:
        prod.compose("rm", "--stop", "--force", "web")
        one_off = prod.compose("run", "--detach", "--no-deps", "web", "sleep", "120").stdout
        prod.up("--no-deps", "web")
        assert (
            engine.docker("inspect", "-f", address, one_off.strip()).stdout.strip() == old_address
        )
        back = time.monotonic()
        client.poll(lambda: prod.get("/").status == 200, 60, interval=0.2, what="home 200")
        seconds_to_200 = time.monotonic() - back
    finally:
        if one_off:
            engine.docker("rm", "--force", one_off.strip(), check=False)
        prod.up("--no-deps", "web")
    record_figures(
        "faults", "web recreated on a new address", seconds_to_200=round(seconds_to_200, 2)
    )
    assert prod.inspect("nginx", "{{.State.StartedAt}}") == nginx_started
