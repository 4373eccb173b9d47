"""Bake stage, hardening: what the bake writes keeps its secrets to its owner and its
database durable, checked on the files themselves, without Docker."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from harness.template import TEMPLATE, YES_NO_ANSWERS

# Runs the post-gen hook's write_env_file(argv[1]) under a permissive umask, and prints
# the mode and size .env had at the first moment Python could see it exist: every file
# operation (open, chmod, ...) raises an audit event before it acts, so a file created
# world-readable and chmod-ed afterwards is seen world-readable.
FIRST_SIGHT = """
import importlib.util, json, os, sys
from pathlib import Path
project = Path(sys.argv[1])
env_file = project / ".env"
seen = []

def audit(event, args):
    if not seen and env_file.exists():
        status = env_file.stat()
        seen.append({"mode": status.st_mode & 0o777, "size": status.st_size, "event": event})

sys.addaudithook(audit)
os.umask(0)
spec = importlib.util.spec_from_file_location("hook", sys.argv[2])
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)
hook.write_env_file(project)
audit("done", ())
final = env_file.stat().st_mode & 0o777
print(json.dumps({"first": seen[0], "final": final}))
"""


def env_file_modes(project, hook_source):
    hook = project.parent / "hook.py"
    hook.write_text(hook_source)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_SIGHT, str(project), str(hook)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def fresh_checkout(bake, tmp_path):
    """A baked project's .env.example, with no .env yet: what the hook starts from."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(bake() / ".env.example", project)
    return project


HOOK = (TEMPLATE / "hooks/post_gen_project.py").read_text()


def test_env_file_is_owner_only_from_its_first_byte(fresh_checkout):
    modes = env_file_modes(fresh_checkout, HOOK)
    assert modes["first"]["mode"] == 0o600, modes
    assert modes["final"] == 0o600
    assert "DJANGO_SECRET_KEY=" in (fresh_checkout / ".env").read_text()


def test_env_file_check_sees_a_file_chmod_ed_after_its_secrets(fresh_checkout):
    """The check above can fail: written world-readable, then chmod 600, is caught."""
    chmod_after = (
        '    env_file = project / ".env"\n    env_file.write_text(\\1)\n    env_file.chmod(0o600)\n'
    )
    written_then_chmod = re.sub(
        r"    # Owner-only.*?env_file.write\((.*?)\)\n", chmod_after, HOOK, flags=re.S
    )
    assert "env_file.chmod(0o600)" in written_then_chmod
    modes = env_file_modes(fresh_checkout, written_then_chmod)
    assert modes["final"] == 0o600
    assert modes["first"]["mode"] == 0o666, modes


# Postgres settings that trade committed transactions for speed: off, a crash loses them.
UNDURABLE = re.compile(
    r"\b(fsync|synchronous_commit|full_page_writes)\s*=\s*(off|false|no|0)\b", re.I
)


def deployment_files(project):
    """Every compose file, Swarm stack and Kubernetes manifest of a bake."""
    return sorted({*project.glob("compose*.yaml"), *project.glob("deploy/**/*.yaml"),
                   *project.glob("deploy/**/*.env")})  # fmt: skip


def undurable_settings(project):
    return {
        str(path.relative_to(project)): found
        for path in deployment_files(project)
        if (found := UNDURABLE.findall(path.read_text()))
    }


def test_no_deployment_turns_off_postgres_durability(bake):
    project = bake(**dict.fromkeys(YES_NO_ANSWERS, "y"))
    files = [str(path.relative_to(project)) for path in deployment_files(project)]
    assert {"compose.prod.yaml", "deploy/swarm/stack.yaml",
            "deploy/k8s/base/kustomization.yaml"} <= set(files)  # fmt: skip
    assert undurable_settings(project) == {}
    readme = (project / "README.md").read_text()
    assert re.search(r"^## Durability$", readme, re.M)


@pytest.mark.parametrize(
    "command", ["-c fsync=off", '"-c", "synchronous_commit=off"', "-c full_page_writes=false"]
)
def test_durability_check_finds_a_setting_that_turns_it_off(bake, tmp_path, command):
    project = shutil.copytree(bake(), tmp_path / "project")
    stack = project / "compose.prod.yaml"
    shm = "    shm_size: 128m\n"
    stack.write_text(stack.read_text().replace(shm, f"{shm}    command: [postgres, {command}]\n"))
    assert list(undurable_settings(project)) == ["compose.prod.yaml"]
