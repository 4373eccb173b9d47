"""Faults stage, durability: writes the app acknowledged survive Postgres killed mid-load,
and a gunicorn worker killed mid-request leaves none of that request's writes.

The writes are a user's own, through nginx: the superuser (DJANGO_SUPERUSER_* in .env)
logs into the admin at the bake's DJANGO_ADMIN_URL and adds users (password-less, so no
slow hashing), or deletes them from the list.
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import client, engine
from harness.admin import Admin, psql, superuser
from harness.figures import record_figures
from harness.stacks import BEHIND_LOAD_BALANCER, stack_up
from harness.template import add_to_env, project_env

# The load: a few threads, each adding users one after another, for a bounded time.
WRITERS = 6
ACKED_BEFORE_KILL = 60
ACKED_AFTER_RESTART = 60
LOAD_DEADLINE = 90
RECOVERY_DEADLINE = 60
SUPERUSER = superuser("crash-admin")


@pytest.fixture(scope="module")
def option_set():
    """Durability depends on the stack's shape, not on its options: the default bake only."""
    return "default"


@pytest.fixture(scope="module")
def stack(bake, image, option_set):
    project = bake()
    add_to_env(project, **SUPERUSER)
    env = {"APP_IMAGE": image(option_set), "PROXY_IMAGE": image(option_set, target="nginx"),
           **BEHIND_LOAD_BALANCER}  # fmt: skip
    yield from stack_up(project, "compose.prod.yaml", env)


class Writers:
    """WRITERS threads adding users until stopped; every acknowledged id, and every failure."""

    def __init__(self, admin):
        self.admin, self.acked, self.failed = admin, [], 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write) for _ in range(WRITERS)]

    def write(self):
        while not self.stopping.is_set():
            added = self.admin.add_user()
            with self.lock:
                if added is None:
                    self.failed += 1
                else:
                    self.acked.append(added)

    def count(self):
        with self.lock:
            return len(self.acked)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


def ready(stack):
    return stack.get("/health/ready/").status == 200


def test_every_acknowledged_write_survives_postgres_killed_mid_load(stack):
    admin = Admin(stack, SUPERUSER).log_in()
    web_started = stack.inspect("web", "{{.State.StartedAt}}")
    (db,) = stack.containers("db")
    with Writers(admin) as writers:
        client.poll(lambda: writers.count() >= ACKED_BEFORE_KILL, LOAD_DEADLINE,
                    what=f"{ACKED_BEFORE_KILL} acknowledged writes")  # fmt: skip
        engine.docker("kill", "--signal", "KILL", db)
        killed = time.monotonic()
        acked_at_kill = writers.count()
        engine.docker("start", db)
        client.poll(lambda: ready(stack), RECOVERY_DEADLINE, interval=0.2, what="ready again")
        recovered = time.monotonic() - killed
        target = writers.count() + ACKED_AFTER_RESTART
        client.poll(lambda: writers.count() >= target, LOAD_DEADLINE,
                    what=f"{ACKED_AFTER_RESTART} more acknowledged writes")  # fmt: skip
    stored = {int(row) for row in psql(stack, "SELECT id FROM users_user")}
    lost = sorted(set(writers.acked) - stored)
    record_figures("faults", "postgres SIGKILL under admin writes",
                   acknowledged=len(writers.acked), acknowledged_at_kill=acked_at_kill,
                   lost=len(lost), failed=writers.failed,
                   seconds_to_ready=round(recovered, 1))  # fmt: skip
    assert lost == [], f"{len(lost)} acknowledged writes lost: {lost[:20]}"
    # Served again by the same web container: it reconnected by itself.
    assert stack.inspect("web", "{{.State.StartedAt}}") == web_started


def connection_owner(pids, port):
    """Which of these host PIDs holds the TCP connection whose local port is `port` (in
    its own network namespace): its socket's inode is among the process's descriptors."""
    for pid in pids:
        proc = Path(f"/proc/{pid}")
        links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        inodes = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
        for table in ("tcp", "tcp6"):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                row = line.split()
                if int(row[1].rpartition(":")[2], 16) == port and row[9] in inodes:
                    return pid
    return None


def gunicorn_workers(stack):
    """Host PIDs of web's gunicorn workers: the children of the master, itself the child
    of the container's init."""
    (container,) = stack.containers("web")
    rows = engine.docker("top", container, "-o", "pid,ppid,args").stdout.splitlines()[1:]
    processes = [row.split(None, 2) for row in rows]
    (init,) = [pid for pid, _, args in processes if args.startswith("/sbin/docker-init")]
    (master,) = [pid for pid, parent, _ in processes if parent == init]
    return [int(pid) for pid, parent, _ in processes if parent == master]


# The deletes of the request under test wait behind this lock, after its log entries are
# written: the moment a worker's death would leave a half-applied request.
HOLD_USERS = "BEGIN; LOCK TABLE users_user IN SHARE ROW EXCLUSIVE MODE; SELECT 'held';\n"
WAITING_DELETE = ("SELECT client_port FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                  " AND query LIKE 'DELETE FROM \"users_user\"%'")  # fmt: skip
HALF_APPLIED = ("SELECT l.object_id FROM django_admin_log l JOIN users_user u"
                " ON l.object_id = u.id::text WHERE l.action_flag = 3")  # fmt: skip


def existing(stack, ids):
    """Which of these users exist (ids are the app's integers, never text from outside)."""
    listed = ",".join(str(int(id_)) for id_ in ids)
    rows = psql(stack, f"SELECT id FROM users_user WHERE id IN ({listed})")  # noqa: S608
    return sorted(map(int, rows))


def test_a_worker_killed_mid_request_leaves_none_of_its_writes(stack):
    admin = Admin(stack, SUPERUSER).log_in()
    victims = sorted(admin.add_user() for _ in range(3))
    env = project_env(stack.project)
    holder = subprocess.Popen(
        ["docker", "compose", "-f", "compose.prod.yaml", "exec", "-T", "db", "psql", "-U",
         env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-At"],
        cwd=stack.project, env={**os.environ, **stack.env}, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    answers = []
    try:
        holder.stdin.write(HOLD_USERS)
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "BEGIN"
        assert holder.stdout.readline().strip() == "LOCK TABLE"
        assert holder.stdout.readline().strip() == "held"
        request = threading.Thread(target=lambda: answers.append(admin.delete_users(victims)))
        request.start()
        (port,) = client.poll(lambda: psql(stack, WAITING_DELETE), 30, interval=0.2,
                              what="the delete waiting behind the lock")  # fmt: skip
        worker = connection_owner(gunicorn_workers(stack), int(port))
        assert worker, f"no gunicorn worker holds the connection from port {port}"
        os.kill(worker, signal.SIGKILL)
        request.join(timeout=60)
    finally:
        holder.communicate("COMMIT;\n", timeout=30)
    # The request was not acknowledged: nginx answers for the worker that died.
    assert answers and not (isinstance(answers[0], int) and answers[0] < 400), answers
    client.poll(lambda: not psql(stack, WAITING_DELETE), 30, what="the dead request's end")
    assert psql(stack, HALF_APPLIED) == [], "deletions logged for users that still exist"
    assert existing(stack, victims) == victims
    # Not a broken app: the same request, from a live worker, applies whole.
    assert admin.delete_users(victims) == 302
    assert existing(stack, victims) == []
