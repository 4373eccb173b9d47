"""A stack on Docker Swarm, for the scale stage: deployed from its files, looked at through
the docker CLI (its services, tasks and logs), rolled to a new image, removed with all it
leaves behind; and wrk's load on it while it changes."""

import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from harness import client, engine
from harness.load import wrk_command, wrk_figures
from harness.stacks import VIA_HTTPS

# How long a rolling update may take: Swarm waits for each new task's health checks (5 s
# apart, 30 s start period).
UPDATE_TIMEOUT = 240


@dataclass
class SwarmStack:
    """A stack `docker stack deploy` made, by its name, reached through nginx's port."""

    name: str
    base_url: str
    compose_files: list
    env: dict
    deploy_output: str = ""

    def deploy(self, *extra_files, env=None):
        """`docker stack deploy` of the stack's files (and more), without waiting."""
        files = [arg for path in (*self.compose_files, *extra_files)
                 for arg in ("--compose-file", str(path))]  # fmt: skip
        deployed = engine.docker("stack", "deploy", "--detach=true", *files, self.name,
                                 env={**self.env, **(env or {})})  # fmt: skip
        self.deploy_output = deployed.stdout + deployed.stderr

    def get(self, path):
        return client.request(self.base_url + path, headers=VIA_HTTPS)

    def service(self, name):
        return f"{self.name}_{name}"

    def inspect(self, service, template):
        inspected = engine.docker("service", "inspect", self.service(service), "--format", template)
        return inspected.stdout

    def running_images(self, service):
        """The image of each task of the service that is running now."""
        listing = engine.docker(
            "service", "ps", self.service(service), "--filter", "desired-state=running",
            "--format", "{{.Image}} {{.CurrentState}}",
        )  # fmt: skip
        return sorted(image for image, state, *_ in map(str.split, listing.stdout.splitlines())
                      if state == "Running")  # fmt: skip

    def log_times(self, service, text):
        """When each line of the service's logs that holds `text` was written."""
        logs = engine.docker("service", "logs", "--raw", "--timestamps", self.service(service))
        lines = (logs.stdout + logs.stderr).splitlines()
        return [datetime.fromisoformat(line.split()[0]) for line in lines if text in line]

    def with_proxy_trouble(self, figures):
        """The figures, then nginx's lines about anything but a 200, one a line: what a failed
        request looked like."""
        logs = engine.docker("service", "logs", "--raw", self.service("nginx"))
        lines = (logs.stdout + logs.stderr).splitlines()
        trouble = [line for line in lines if "[error]" in line or "[warn]" in line
                   or ('" 200 ' not in line and "HTTP/1.1" in line)][-20:]  # fmt: skip
        return "\n".join([str(figures), *trouble])

    def update_image(self, service, image):
        """Roll the service to `image` and wait until Swarm is done (converged or rolled
        back); the state it ended in, e.g. "completed" or "rollback_completed"."""
        engine.docker(
            "service", "update", "--detach=false", "--no-resolve-image", "--image", image,
            self.service(service), check=False, timeout=UPDATE_TIMEOUT,
        )  # fmt: skip
        return self.inspect(service, "{{.UpdateStatus.State}}").strip()


def remove_stack(name):
    """`docker stack rm`, then wait for its tasks and network to go (Swarm stops them in
    the background) and remove what `stack rm` leaves: its volumes, and on this engine
    the exited containers of its job."""
    engine.docker("stack", "rm", name, check=False)
    label = f"label=com.docker.stack.namespace={name}"

    def stopped():
        running = engine.docker("ps", "--quiet", "--filter", label).stdout
        networks = engine.docker("network", "ls", "--quiet", "--filter", label).stdout
        return not running.strip() and not networks.strip()

    client.poll(stopped, 180, interval=0.5, what=f"stack {name} stopped")
    for kind, listing in [("container", ["ps", "--all"]), ("volume", ["volume", "ls"])]:
        leftover = engine.docker(*listing, "--quiet", "--filter", label).stdout.split()
        if leftover:
            engine.docker(kind, "rm", "--force", *leftover)


@contextmanager
def load(url):
    """wrk on `url` while the block runs; what it counted, in the yielded dict after."""
    # A long duration only as a bound: the end of the block stops wrk (SIGINT: it reports
    # and exits).
    command = wrk_command(url, VIA_HTTPS, connections=8, seconds=600, timeout="30s")
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    figures = {}
    try:
        yield figures
    finally:
        wrk.send_signal(signal.SIGINT)
        output = wrk.communicate(timeout=30)[0]
    counted = wrk_figures(output)
    figures.update((key, counted[key]) for key in ("requests", "failed", "non_200"))
    figures.update(counted["socket_error_kinds"])


def under_load(stack, action):
    """Run `action` while wrk loads the home page (a Postgres query per request)."""
    started = time.monotonic()
    with load(stack.base_url + "/") as figures:
        outcome = action()
    figures["seconds"] = round(time.monotonic() - started)
    return outcome, figures
