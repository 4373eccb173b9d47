"""The baked compose files, as compose resolves them, and their stacks, brought up from
prebuilt images on loopback, always torn down."""

import json
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from harness import client, engine
from harness.template import COOKIECUTTER, TEST_IMAGES

PUBLIC_HOST = COOKIECUTTER["domain_name"]  # the default answer
# What a TLS-terminating load balancer in front of nginx adds.
VIA_HTTPS = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
# The prod stack as it runs behind such a load balancer (TLS_MODE=off): the tests on this
# host are it. Published ports reach nginx from the gateway of the stack's network, an
# address from the engine's default pools.
BEHIND_LOAD_BALANCER = {"TLS_MODE": "off", "TRUSTED_PROXIES": "172.16.0.0/12 192.168.0.0/16"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    project: Path
    compose_files: str | list
    env: dict
    base_url: str

    @property
    def https_port(self):
        return int(self.env["HTTPS_PORT"])

    @property
    def name(self):
        return self.env["COMPOSE_PROJECT_NAME"]

    def compose(self, *args, check=True):
        return engine.compose(self.project, self.compose_files, *args, env=self.env, check=check)

    def containers(self, *services):
        """IDs of the services' containers, running or exited (every service's if none named)."""
        return self.compose("ps", "--all", "--quiet", *services).stdout.split()

    def up(self, *services):
        """Start (or create) services from prebuilt images and wait until they are healthy."""
        return self.compose("up", "--detach", "--wait", "--no-build", "--pull", "never", *services)

    def inspect(self, service, template):
        """`docker inspect -f TEMPLATE` of the service's one container."""
        (container,) = self.containers(service)
        return engine.docker("inspect", "-f", template, container).stdout.strip()

    def get(self, path, headers=VIA_HTTPS, method="GET", data=None):
        return client.request(self.base_url + path, method=method, headers=headers, data=data)


def stack_up(project, compose_files, env):
    """Bring a stack up with prebuilt images (nothing is pulled) and wait for health;
    always take it down again, volumes included."""
    port = free_port()
    env = {"COMPOSE_PROJECT_NAME": f"ddtest-{uuid.uuid4().hex[:8]}", "HTTP_ADDRESS": "127.0.0.1",
           "HTTP_PORT": str(port), "DEV_PORT": str(port), "HTTPS_PORT": str(free_port()),
           "CERTBOT_IMAGE": TEST_IMAGES["certbot"], **env}  # fmt: skip
    stack = Stack(project, compose_files, env, f"http://127.0.0.1:{port}")
    try:
        stack.up()
        yield stack
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


def leftovers(project_name):
    """Containers, networks and volumes Compose labelled with this project name."""
    label = f"--filter=label=com.docker.compose.project={project_name}"
    listings = {"container": ["--all"], "network": [], "volume": []}
    return {
        kind: engine.docker(kind, "ls", "--quiet", *extra, label).stdout.split()
        for kind, extra in listings.items()
    }


def compose_files(project):
    """Every compose file of a bake (compose*.yaml, the Swarm stack, ...): YAML with services
    that name their images. Not an overlay, which only adds to another file's services
    (deploy/swarm/https.yaml) and names none."""
    return sorted(
        str(path.relative_to(project))
        for path in project.rglob("*.yaml")
        if re.search(r"^services:", text := path.read_text(), re.M)
        and re.search(r"^ +(image|build):", text, re.M)
    )


def compose_services(project, compose_file, env):
    """The file's services, as `docker compose config` resolves them with `env`."""
    config = engine.compose(project, compose_file, "config", "--format=json", env=env, check=True)
    return json.loads(config.stdout)["services"]


def images_named(project, compose_file, env):
    """(images the file's services run, images they build, base images passed to their
    builds), as compose resolves them with `env`."""
    run, built, bases = set(), set(), set()
    for service in compose_services(project, compose_file, env).values():
        build = service.get("build")
        (built if build else run).add(service["image"])
        if build:
            bases |= {
                value for arg, value in build.get("args", {}).items() if arg.endswith("_IMAGE")
            }
    return run, built, bases
