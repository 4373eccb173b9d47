"""Running a baked project's own code on the host, for tests of every stage."""

import os
import subprocess
import sys

import uv


def uv_run(project, *args):
    """uv in the baked project, on this interpreter: the host may have no Python matching
    the project's .python-version (the image's), and the code runs on any from 3.11."""
    return subprocess.run(
        [uv.find_uv_bin(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"},
    )


def synced(project):
    """The baked project with its locked dependencies (every extra, dev group) installed."""
    result = uv_run(project, "sync", "--locked", "--all-extras")
    assert result.returncode == 0, result.stderr
    return project
