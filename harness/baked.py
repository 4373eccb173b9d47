"""Checking a baked project on the host: its own code, and linters, for every stage."""

import os
import subprocess
import sys
from pathlib import Path

import uv

from harness.engine import CA_BUNDLE
from harness.template import TEMPLATE


def uv_run(project, *args):
    """uv in the baked project, on this interpreter: the host may have no Python matching
    the project's .python-version (the image's), and the code runs on any from 3.11. uv
    trusts only its own roots unless told about the host's (a proxy's CA among them)."""
    return subprocess.run(
        [uv.find_uv_bin(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "SSL_CERT_FILE": str(CA_BUNDLE),
            **os.environ,
            "UV_PYTHON": sys.executable,
            "UV_PYTHON_DOWNLOADS": "never",
        },  # fmt: skip
    )


def synced(project):
    """The baked project with its locked dependencies (every extra, dev group) installed."""
    result = uv_run(project, "sync", "--locked", "--all-extras")
    assert result.returncode == 0, result.stderr
    return project


def tool(name):
    """A linter installed from PyPI next to this interpreter (requirements-test.txt)."""
    return str(Path(sys.executable).parent / name)


def baked_files(project):
    return [path for path in project.rglob("*") if path.is_file() and ".venv" not in path.parts]


def run(command, cwd=None):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def cookiecutter_cli(output_dir, *answers, wrapper=(), options=("--no-input",)):
    """The bake as a user types it: `cookiecutter --no-input TEMPLATE name=value ...`."""
    return run(
        [*wrapper, sys.executable, "-m", "cookiecutter", *options,
         "--output-dir", str(output_dir), str(TEMPLATE), *answers]
    )  # fmt: skip


def assert_ruff_clean(directory):
    for command in (["check", "."], ["format", "--check", "."]):
        result = run([sys.executable, "-m", "ruff", *command], cwd=directory)
        assert result.returncode == 0, result.stdout + result.stderr
