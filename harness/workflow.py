"""A bake as a forker works in it: a git checkout with its locked tools, its justfile's
recipes and its GitHub workflows' steps run the way a laptop and CI run them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import uv
import yaml

from harness.baked import synced

# Git needs a name to commit; the tests' commits need no real one.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def shell_env(project, extra=None):
    """What a shell in the checkout has after `uv sync`: the project's tools and uv itself
    first on PATH, uv on this interpreter (the host may lack the image's Python)."""
    path = [str(project / ".venv/bin"), str(Path(uv.find_uv_bin()).parent), os.environ["PATH"]]
    return {
        **os.environ,
        **GIT_IDENTITY,
        "PATH": os.pathsep.join(path),
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        **(extra or {}),
    }


def sh(project, command, env=None, timeout=600, stdin=None):
    """One shell command in the checkout, as a workflow's `run:` step or a person types it."""
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command], cwd=project, env=shell_env(project, env),
        input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def committed(project, message="Baked"):
    """Everything in the checkout committed (git init first if needed)."""
    if not (project / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main", project], check=True)
    for command in (["git", "add", "-A"], ["git", "commit", "-q", "--allow-empty", "-m", message]):
        subprocess.run(command, cwd=project, env={**os.environ, **GIT_IDENTITY}, check=True)
    return project


def checkout(project):
    """The bake as a fork starts: its locked tools installed (`uv sync`), committed."""
    return committed(synced(project))


def workflow(project, name):
    return yaml.safe_load((project / ".github/workflows" / name).read_text())


def run_steps(project, workflow_name, job):
    """The `run:` steps of a workflow's job, in the order CI runs them."""
    steps = workflow(project, workflow_name)["jobs"][job]["steps"]
    return [step["run"] for step in steps if "run" in step]


def run_job(project, workflow_name, job, env=None, timeout=900):
    """Run a job's `run:` steps in order, stopping at the first that fails, as CI does."""
    for command in run_steps(project, workflow_name, job):
        result = sh(project, command, env=env, timeout=timeout)
        assert result.returncode == 0, f"{job}: `{command}` failed:\n{result.stdout}{result.stderr}"


def recipes(project):
    """The justfile's recipe names, as `just --summary` lists them."""
    return sh(project, "just --summary").stdout.split()


def lines_until(project, command, wanted, deadline, env=None):
    """Start a command that never ends by itself (`logs --follow`), read its output until a
    line contains `wanted` or the deadline passes, then stop it and everything it started."""
    process = subprocess.Popen(
        ["bash", "-c", command], cwd=project, env=shell_env(project, env), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    give_up = time.monotonic() + deadline
    seen = []
    try:
        os.set_blocking(process.stdout.fileno(), False)
        while time.monotonic() < give_up and not any(wanted in line for line in seen):
            line = process.stdout.readline()
            if line:
                seen.append(line)
            else:
                time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    return seen
