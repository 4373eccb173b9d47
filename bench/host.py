"""The host the bench runs on: its progress log, host commands, what it must have, and
the description of the machine that goes into RESULTS.md."""

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import engine
from harness.template import OFFICIAL_IMAGES

BASE_IMAGE = OFFICIAL_IMAGES["PYTHON_IMAGE"]
# local stand-ins, never pulled
REQUIRED_IMAGES = [
    OFFICIAL_IMAGES[name] for name in ("PYTHON_IMAGE", "POSTGRES_IMAGE", "NGINX_IMAGE")
]
WRK_PACKAGE, WRK_VERSION = "wrk", "4.1.0-3+b2"  # Debian bookworm's wrk, pinned
WRK_CONNECTIONS = 64

STARTED = time.perf_counter()


def log(message):
    print(f"[{time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def minutes_so_far():
    return (time.perf_counter() - STARTED) / 60


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
    """Label → description of what this run ran on."""
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
        "wrk": f"wrk {installed_wrk()} (Debian), 2 threads, {WRK_CONNECTIONS} connections",
        "base": f"{BASE_IMAGE} "
        + docker_out("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE)[7:19],
    }
