"""Checking a baked project on the host: its own code, linters, and the environment
variables its code reads, for every stage."""

import ast
import os
import re
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


def reads_variable(call, readers):
    """Whether a call reads the environment variable its first argument names: env() and
    env.TYPE() (django-environ), os.environ.get, os.getenv, or one of `readers`. Not
    os.environ.setdefault: that is the project setting a variable for a library."""
    function = ast.unparse(call.func)
    return (
        function in {"env", "os.environ.get", "os.getenv", "getenv", *readers}
        or function.rpartition(".")[0] == "env"
    )


def variables_read(sources):
    """Every environment variable the Python `sources` read by name, directly or through
    a function that passes its parameter on to a reader (flag())."""
    trees = [ast.parse(source) for source in sources]
    readers, before = set(), None
    while readers != before:
        before = set(readers)
        readers |= {
            function.name
            for tree in trees
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.args.args
            for call in ast.walk(function)
            if isinstance(call, ast.Call) and call.args and reads_variable(call, readers)
            and ast.unparse(call.args[0]) == function.args.args[0].arg
        }  # fmt: skip
    names = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and node.args and reads_variable(node, readers):
            names.add(node.args[0])
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            names.add(node.slice)
    return {node.value for node in names if isinstance(node, ast.Constant)}


def unlisted_variables(project, *extra_sources):
    """Variables the project's Python (not its tests) reads that .env.example leaves out."""
    sources = [
        path.read_text()
        for path in baked_files(project)
        if path.suffix == ".py" and path.parts[len(project.parts)] != "tests"
    ]
    listed = re.findall(
        r"^# ?([A-Z][A-Z0-9_]*)=|^([A-Z][A-Z0-9_]*)=", (project / ".env.example").read_text(), re.M
    )
    return variables_read([*sources, *extra_sources]) - {name for pair in listed for name in pair}
