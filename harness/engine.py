"""Thin helpers over the docker CLI, the interface users have too."""

import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import client

# The host's CA bundle, for builds behind this machine's TLS-intercepting proxy. Passing it
# is exactly what a user behind a corporate proxy does (see the baked README).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(*args, check=True, timeout=600, env=None):
    """`docker ARGS`, with extra environment variables (what compose files interpolate)."""
    result = subprocess.run(
        ["docker", *args], env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def compose(project, compose_files, *args, env=None, check=False, timeout=600):
    """`docker compose -f FILE [-f OVERRIDE...] ARGS` in a baked project, with extra
    environment variables."""
    files = [compose_files] if isinstance(compose_files, str | Path) else compose_files
    result = subprocess.run(
        ["docker", "compose", *(f"-f{file}" for file in files), *args],
        cwd=project, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"docker compose {' '.join(args)}:\n{result.stdout}{result.stderr}")
    return result


def host_ca_certificates():
    """The host's CA bundle as PEM bytes (none on a host without one)."""
    return CA_BUNDLE.read_bytes() if CA_BUNDLE.exists() else b""


def ca_bundle_secret(ca_bundle=CA_BUNDLE):
    """The build flag that mounts a CA bundle where the Dockerfiles look for it."""
    return [f"--secret=id=ca_bundle,src={ca_bundle}"] if ca_bundle.exists() else []


def build(project, tag, target="runtime", ca_bundle=CA_BUNDLE):
    docker("buildx", "build", "--load", *ca_bundle_secret(ca_bundle), f"--target={target}",
           f"--tag={tag}", str(project))  # fmt: skip


@dataclass
class Container:
    name: str
    base_url: str

    def exec(self, *command, check=True):
        return docker("exec", self.name, *command, check=check)


def env_flags(env):
    return [f"--env={name}={value}" for name, value in env.items()]


@contextmanager
def running(image, env, *args, port=8000):
    """A detached container of `image`, its `port` published on a free loopback port."""
    run = docker("run", "--detach", f"--publish=127.0.0.1::{port}", *env_flags(env), *args, image)
    name = run.stdout.strip()
    try:
        published = docker("port", name, f"{port}/tcp").stdout.split(":")[-1].strip()
        yield Container(name, f"http://127.0.0.1:{published}")
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def start_period(tag):
    """Seconds the image's HEALTHCHECK gives it to start: the deadline it sets itself, the
    same on a fast machine and a slow one."""
    healthcheck = docker("image", "inspect", "-f", "{{json .Config.Healthcheck}}", tag).stdout
    return json.loads(healthcheck)["StartPeriod"] / 1e9


def wait_until_healthy(container, deadline):
    """Until Docker reports the container's HEALTHCHECK healthy."""

    def healthy():
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout
        return status.strip() == "healthy"

    client.poll(healthy, deadline, interval=0.5, what="HEALTHCHECK healthy")


def run_in_image(tag, *command, user=None):
    """`command` in a fresh container of `tag`, instead of its entrypoint; fails unless it
    exits 0, so a check cannot pass because the container never started."""
    as_user = [f"--user={user}"] if user else []
    return docker("run", "--rm", *as_user, "--entrypoint", command[0], tag, *command[1:])


def verdict(tag, script):
    """What a shell script prints in `tag`: the script says what it found and exits 0, so
    "not there" (a verdict) and "could not look" (an error) stay apart."""
    return run_in_image(tag, "sh", "-c", f"set -u; {script}").stdout.strip()
