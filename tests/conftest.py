"""Fixtures shared by every stage: baking the template, and a real Docker engine."""

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import engine
from harness.kubernetes import KUBECTL
from harness.scan import throwaway_ca
from harness.stacks import BEHIND_LOAD_BALANCER, stack_up
from harness.template import BAKES, OPTION_SETS, add_local_state, chosen

# Fastest and most basic first; scale last, as joining and leaving a swarm disturbs the
# engine's networking for whatever else runs then.
STAGES = ["bake", "bench", "build", "stack", "tls", "faults", "scale"]


def stage_of(item):
    """The first word of the test module's name after `test_` (test_scale_swarm.py: scale)."""
    return item.module.__name__.rpartition("test_")[2].partition("_")[0]


def without_the_answer(item):
    """A test marked only_with(answer) for an option set that says no to that answer."""
    marker = item.get_closest_marker("only_with")
    option_set = getattr(item, "callspec", None) and item.callspec.params.get("option_set")
    return bool(marker and option_set) and not chosen(option_set, marker.args[0])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark each test with its stage, so `-m bake` or `-m scale` selects it, and run the
    stages in order (a stable sort: each module's own order stays). A test of a feature
    an option set has not chosen is not run for that set at all (rather than skipped)."""
    deselected = [item for item in items if without_the_answer(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
    for item in items:
        item.add_marker(stage_of(item))
    items.sort(key=lambda item: STAGES.index(stage_of(item)))


@pytest.fixture(scope="module", params=OPTION_SETS)
def option_set(request):
    """Each option set in turn, for a whole module: its images and stacks are reused."""
    return request.param


@pytest.fixture(scope="session")
def bake(cookies_session):
    """Bake the template with some answers; fail with cookiecutter's error if it cannot."""

    def bake_with(**answers):
        result = cookies_session.bake(extra_context=answers)
        assert result.exit_code == 0, result.exception
        return result.project_path

    return bake_with


def unavailable(message):
    """Something a stage needs is missing: a failure in CI, a skip on a workstation."""
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must provision it: see .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_engine():
    """A running Docker engine."""
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["`docker info` failed"])[-1]
        unavailable(f"no Docker engine: {reason}")


@pytest.fixture(scope="session")
def kubectl():
    """Debian's kubectl with its built-in kustomize (.ci/provision-kubectl.sh)."""
    if not KUBECTL.exists():
        unavailable(f"no {KUBECTL}: run .ci/provision-kubectl.sh")
    return KUBECTL


@dataclass(frozen=True)
class BuildCa:
    """The CA bundle every test build gets: the host's (for a TLS-intercepting proxy) plus
    a CA made for this run, which a secret scan can look for on any host."""

    bundle: Path
    throwaway: bytes  # PEM


@pytest.fixture(scope="session")
def build_ca(tmp_path_factory):
    directory = tmp_path_factory.mktemp("build-ca")
    throwaway = throwaway_ca(directory)
    host = engine.host_ca_certificates()
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes(host.rstrip(b"\n") + b"\n" + throwaway)
    return BuildCa(bundle, throwaway)


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    project: Path  # the bake it was built from: its .env holds the secrets it must not


@pytest.fixture(scope="session")
def built_image(bake, docker_engine, build_ca):
    """An image (Dockerfile target) of the project baked with an option set (or the
    unusual answers): built once per session, from a working tree with local state in it,
    and removed at the end. Every target of an option set comes from one bake."""
    projects, built = {}, {}

    def image_for(option_set, target="runtime"):
        if option_set not in projects:
            projects[option_set] = bake(**BAKES[option_set])
            add_local_state(projects[option_set])
        if (option_set, target) not in built:
            tag = f"django-docker-test/{option_set}-{target}:{uuid.uuid4().hex[:8]}"
            engine.build(projects[option_set], tag, target=target, ca_bundle=build_ca.bundle)
            built[option_set, target] = BuiltImage(tag, projects[option_set])
        return built[option_set, target]

    yield image_for
    for image in built.values():
        engine.docker("rmi", "--force", image.tag, check=False)


@pytest.fixture(scope="session")
def image(built_image):
    """The tag of `built_image(option_set, target)`."""
    return lambda option_set, target="runtime": built_image(option_set, target).tag


@pytest.fixture(scope="module")
def prod(bake, image, option_set):
    """compose.prod.yaml up, one stack per test module: nginx → gunicorn → Postgres (and
    Redis + worker with Celery)."""
    project = bake(**OPTION_SETS[option_set])
    env = {"APP_IMAGE": image(option_set), "PROXY_IMAGE": image(option_set, target="nginx"),
           **BEHIND_LOAD_BALANCER}  # fmt: skip
    yield from stack_up(project, "compose.prod.yaml", env)
