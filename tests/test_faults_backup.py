"""Faults stage, backups: the restore drill (seed through nginx, `just backup`, every
volume gone, `just restore`: every row and upload back, byte for byte), the scheduled
backups and their pruning, the copy to a bucket, and bad input (a missing or corrupt
backup, a database holding data, a backup with the database down), each refused in one
line with nothing changed.

Everything runs as the README tells a user to: the justfile's recipes, in a checkout of
the bake, on the prod stack behind a load balancer, with the S3 stand-in beside it."""

import os
import re
import shutil
import time
import uuid

import pytest

from harness import client, engine
from harness.admin import Admin, psql, superuser
from harness.figures import record_figures
from harness.sinks import SINKS_OVERRIDE, public_read, sinks_env
from harness.stacks import BEHIND_LOAD_BALANCER, leftovers, stack_up
from harness.template import add_to_env, project_env
from harness.workflow import checkout, sh

SUPERUSER = superuser("backup-admin")
SEEDED_USERS = 25
# Every row of the users table, in one digest: equal digests, equal tables.
USERS_DIGEST = (
    "SELECT count(*) || '-' || md5(string_agg(u::text, ',' ORDER BY id)) FROM users_user u"
)
# The scheduler's test settings: a backup a second, two kept (the newest is this week's).
SCHEDULE = {"BACKUP_INTERVAL_SECONDS": "1", "BACKUP_KEEP_LAST": "2", "BACKUP_KEEP_WEEKLY": "1"}
SCHEDULE_DEADLINE = 90
# What backup.sh prints, each line its own: "backup: <name> taken, ...".
TAKEN = re.compile(r"^backup: (\S+) taken", re.M)
# /metrics as Prometheus beside the container reads it (loopback is an allowed network).
METRICS_FROM_INSIDE = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())"


def logs(stack, container):
    return engine.docker("logs", container, check=False).stdout


@pytest.fixture(scope="module")
def option_set():
    """Backups depend on the stack's shape, not on its options: the default bake only."""
    return "default"


@pytest.fixture(scope="module")
def stack(bake, image, option_set, tmp_path_factory):
    """The prod stack of a checkout of its own (its backups in ./backups), with uploads on
    the media volume and the backups' bucket in the S3 stand-in."""
    project = checkout(shutil.copytree(bake(), tmp_path_factory.mktemp("backup") / "checkout"))
    add_to_env(project, **SUPERUSER, BACKUP_S3_BUCKET=f"backups-{uuid.uuid4().hex[:8]}",
               AWS_S3_ENDPOINT_URL="http://s3:5000", AWS_ACCESS_KEY_ID="stand-in",
               AWS_SECRET_ACCESS_KEY=uuid.uuid4().hex)  # fmt: skip
    env = {"APP_IMAGE": image(option_set), "PROXY_IMAGE": image(option_set, target="nginx"),
           **sinks_env(), **BEHIND_LOAD_BALANCER}  # fmt: skip
    for stack in stack_up(project, ["compose.prod.yaml", SINKS_OVERRIDE], env):
        make_bucket(stack)
        yield stack


def make_bucket(stack):
    """The backups' bucket, on a stand-in that keeps its buckets in memory only; readable
    by the test without signing (a real one would stay private)."""
    created = client.request(bucket_url(stack), method="PUT")
    assert created.status == 200, created.text
    bucket = project_env(stack.project)["BACKUP_S3_BUCKET"]
    readable = client.request(bucket_url(stack) + "?policy", method="PUT", data=public_read(bucket),
                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert readable.status in (200, 204), readable.text


def bucket_url(stack, key=""):
    """The backups' bucket (or one of its objects) on the S3 stand-in's published port,
    which takes unsigned requests: the test looks without the app's code."""
    bucket = project_env(stack.project)["BACKUP_S3_BUCKET"]
    return f"http://127.0.0.1:{stack.env['S3_PORT']}/{bucket}" + (f"/{key}" if key else "")


def just(stack, recipe):
    """A recipe run as a user does, in the checkout, against this stack."""
    return sh(stack.project, f"just {recipe}", env=stack.env)


def said(result):
    """What backup.sh itself said, line by line (compose adds its own progress lines)."""
    output = result.stdout + result.stderr
    return [line for line in output.splitlines() if line.startswith("backup:")]


def backups(stack):
    """The backups in BACKUP_PATH (./backups), oldest first; any half-written one too."""
    return sorted(path.name for path in (stack.project / "backups").iterdir() if path.is_dir())


def users_digest(stack):
    (digest,) = psql(stack, USERS_DIGEST)
    return digest


def seed(stack):
    """SEEDED_USERS users added through the admin, and an avatar uploaded for the last; the
    avatar's bytes and its path on the site."""
    admin = Admin(stack, SUPERUSER).log_in()
    added = [admin.add_user() for _ in range(SEEDED_USERS)]
    assert None not in added, added
    avatar = os.urandom(48 * 1024)
    admin.set_avatar(added[-1], "avatar.bin", avatar)
    (path,) = psql(stack, f"SELECT avatar FROM users_user WHERE id = {added[-1]}")  # noqa: S608
    return avatar, f"/media/{path}"


def served(stack, path):
    response = stack.get(path)
    return response.body if response.status == 200 else None


def test_restore_drill_brings_back_every_row_and_upload_byte_for_byte(stack):
    avatar, avatar_path = seed(stack)
    assert served(stack, avatar_path) == avatar
    before = users_digest(stack)
    taken = just(stack, "backup")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    (name,) = TAKEN.findall("\n".join(said(taken)))
    size = sum(path.stat().st_size for path in (stack.project / "backups" / name).iterdir())

    stack.compose("down", "--volumes", "--timeout", "10")
    assert leftovers(stack.name)["volume"] == [], "down --volumes left a volume"
    started = time.monotonic()
    restored = just(stack, "restore")
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    stack.up()

    assert users_digest(stack) == before
    assert served(stack, avatar_path) == avatar
    record_figures("faults", "backup and restore drill", users=int(before.split("-")[0]),
                   backup_bytes=size, restore_seconds=round(restore_seconds, 1))  # fmt: skip


def test_restore_into_a_database_holding_data_is_refused_and_changes_nothing(stack):
    before = users_digest(stack)
    refused = just(stack, "restore")
    assert refused.returncode != 0
    (line,) = said(refused)
    assert "holds data" in line and "--force" in line, line
    assert users_digest(stack) == before


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_restore_of_a_bad_backup_says_why_in_one_line_and_changes_nothing(stack, damage):
    before = users_digest(stack)
    name = "2000-01-01T000000Z"
    if damage == "corrupt":
        (newest,) = backups(stack)[-1:]
        shutil.copytree(stack.project / "backups" / newest, stack.project / "backups" / name)
        dump = stack.project / "backups" / name / "database.dump"
        dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    try:
        refused = just(stack, f"restore {name} --force")
    finally:
        shutil.rmtree(stack.project / "backups" / name, ignore_errors=True)
    assert refused.returncode != 0
    (line,) = said(refused)
    expected = "no backup named" if damage == "missing" else "not a readable pg_dump archive"
    assert expected in line, line
    assert users_digest(stack) == before


def test_backup_copies_each_backup_to_the_bucket_unchanged(stack):
    make_bucket(stack)  # again, if the drill's `down --volumes` restarted the stand-in
    taken = just(stack, "backup")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    (name,) = TAKEN.findall("\n".join(said(taken)))
    for archive in ("database.dump", "media.tar.gz"):
        copy = client.request(bucket_url(stack, f"{name}/{archive}"))
        assert copy.status == 200, f"{name}/{archive} is not in the bucket"
        assert copy.body == (stack.project / "backups" / name / archive).read_bytes()


def test_scheduled_backups_keep_the_newest_and_report_the_last_in_metrics(stack):
    flags = [arg for name, value in SCHEDULE.items() for arg in ("--env", f"{name}={value}")]
    scheduler = f"{stack.name}-schedule"
    stack.compose("run", "--detach", "--name", scheduler, *flags, "backup")
    try:
        client.poll(lambda: len(TAKEN.findall(logs(stack, scheduler))) >= 4, SCHEDULE_DEADLINE,
                    interval=0.5, what="four scheduled backups")  # fmt: skip
    finally:
        log = logs(stack, scheduler)
        engine.docker("rm", "--force", scheduler)
    assert "pruned" in log, log
    kept = backups(stack)
    assert len(kept) == int(SCHEDULE["BACKUP_KEEP_LAST"]), kept
    assert kept[-1] == TAKEN.findall(log)[-1]
    finished = float((stack.project / "backups" / "last-success").read_text())
    metrics = stack.compose("exec", "-T", "web", "python", "-c", METRICS_FROM_INSIDE).stdout
    reported = re.search(r"^backup_last_success_timestamp_seconds (\S+)$", metrics, re.M)
    assert reported and float(reported[1]) == finished, metrics[-2000:]


def test_backup_with_the_database_down_fails_in_one_line_and_keeps_the_earlier_ones(stack):
    before = backups(stack)
    stack.compose("stop", "db")
    try:
        failed = stack.compose("run", "--rm", "--no-deps", "backup", "now", check=False)
    finally:
        stack.up("db")
    assert failed.returncode != 0
    (line,) = said(failed)
    assert line.startswith("backup: no backup taken, the database could not be dumped:"), line
    assert backups(stack) == before
