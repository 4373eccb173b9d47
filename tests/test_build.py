"""Build stage: build the baked project's images on a real engine, run them, look inside."""

import json
import re
import secrets
import tarfile
import time
import uuid
from html import escape
from pathlib import Path

import pytest

from harness import client, engine
from harness.engine import docker
from harness.stacks import VIA_HTTPS
from harness.template import LOCAL_STATE, OFFICIAL_IMAGES, OPTION_SETS, UNUSUAL_ANSWERS

MINIMAL_PROD_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "sqlite:////tmp/db.sqlite3",
}
HEALTH_DEADLINE = 10  # seconds from `docker run` to the first 200


def health_ok(container):
    return client.request(container.base_url + "/health/").status == 200


@pytest.fixture(scope="module")
def web(image, option_set):
    """The runtime image serving with the minimal production environment and SQLite."""
    tag = image(option_set)
    started = time.monotonic()
    with engine.running(tag, MINIMAL_PROD_ENV, "--env=WEB_CONCURRENCY=3") as container:
        client.poll(lambda: health_ok(container), HEALTH_DEADLINE, what="GET /health/ == 200")
        container.seconds_to_health = time.monotonic() - started
        yield container


def wait_until_docker_reports_healthy(container):
    def healthy():
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container.name).stdout
        return status.strip() == "healthy"

    client.poll(healthy, 40, interval=0.5, what="HEALTHCHECK healthy")


def run_in_image(tag, *command):
    return docker("run", "--rm", "--entrypoint", command[0], tag, *command[1:], check=False)


def test_runtime_answers_health_within_the_deadline(web):
    assert web.seconds_to_health < HEALTH_DEADLINE
    ready = client.request(web.base_url + "/health/ready/")
    assert (ready.status, ready.text) == (200, '{"status": "ok", "database": "ok"}')


def test_runtime_starts_without_errors_in_its_log(web):
    # By the time Docker has seen a passing HEALTHCHECK, start-up is well over.
    wait_until_docker_reports_healthy(web)
    log = docker("logs", web.name).stderr
    assert "Booting worker" in log
    assert "[ERROR]" not in log and "Traceback" not in log


def test_runtime_runs_as_a_numeric_non_root_user(web, image, option_set):
    assert (
        docker("image", "inspect", "-f", "{{.Config.User}}", image(option_set)).stdout.strip()
        == "10001:10001"
    )
    assert web.exec("id", "-u").stdout.strip() == "10001"


def test_runtime_has_no_compiler_pip_or_uv(image, option_set):
    result = run_in_image(
        image(option_set),
        "sh",
        "-c",
        "for tool in gcc cc c++ make pip pip3 uv; do command -v $tool; done;"
        "python -c 'import pip' 2>/dev/null && echo 'import pip'; true",
    )
    assert result.stdout.strip() == ""


def test_runtime_has_no_package_manager_caches(image, option_set):
    tag = image(option_set)
    leftovers = docker(
        "run", "--rm", "--user=0", "--entrypoint=sh", tag, "-c",
        "find / -xdev \\( -name .cache -o -name '*.deb' -o -name '*.whl' \\) -print;"
        "find /var/lib/apt/lists -type f ! -name lock;"
        "find /tmp /var/tmp -mindepth 1",
    ).stdout  # fmt: skip
    assert leftovers.strip() == ""


def test_runtime_passes_the_deployment_checklist(web):
    result = web.exec(
        "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING", check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Not even an INFO finding, and nothing silenced.
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_docker_healthcheck_reports_healthy(web):
    wait_until_docker_reports_healthy(web)


def test_metrics_count_requests_served_by_every_worker(web):
    def counted():
        body = client.request(web.base_url + "/metrics").text
        return float(
            re.search(r"^django_http_requests_before_middlewares_total (\S+)", body, re.M)[1]
        )

    before = counted()
    for _ in range(30):
        client.request(web.base_url + "/health/")
    # The scrape itself counts too: a per-worker figure would lag far behind with 3 workers.
    assert counted() >= before + 30
    workers = web.exec("sh", "-c", "ls /dev/shm/prometheus | grep -c counter_").stdout
    assert int(workers) >= 2


def test_static_files_are_collected_into_the_image(web):
    listing = web.exec("sh", "-c", "ls /app/staticfiles/admin/css/").stdout.split()
    assert re.search(r"^base\.[0-9a-f]{12}\.css$", "\n".join(listing), re.M)
    assert web.exec("test", "-s", "/app/staticfiles/staticfiles.json", check=False).returncode == 0


def test_translations_work_without_their_sources_in_the_image(web):
    """The venv drops Django's .po files (the Dockerfile); the compiled ones must still
    translate."""
    in_german = (
        "from django.utils import translation; translation.activate('de');"
        " print(translation.gettext('Log in'))"
    )
    result = web.exec("python", "manage.py", "shell", "--no-imports", "--command", in_german)
    assert result.stdout.strip() == "Anmelden"
    assert web.exec("sh", "-c", "find /opt/venv -name '*.po' | wc -l").stdout.strip() == "0"


def test_runtime_code_is_read_only_to_the_app_user(web):
    result = web.exec("sh", "-c", "touch /app/config/x || echo denied", check=False)
    assert "denied" in result.stdout
    assert web.exec("touch", "/app/media/upload-test", check=False).returncode == 0


def start_with(tag, env):
    """The image's own command in the foreground, with only `env` set."""
    return docker("run", "--rm", *engine.env_flags(env), tag, check=False, timeout=60)


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_container_without_a_required_variable_exits_with_one_line(image, missing):
    env = {name: value for name, value in MINIMAL_PROD_ENV.items() if name != missing}
    result = start_with(image("default"), env)
    assert result.returncode != 0
    assert result.stderr.strip() == f"Configuration error: Set the {missing} environment variable"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "postgres://app:pa55word@db:port/app",
         "DATABASE_URL is not a database URL like postgres://USER:PASSWORD@HOST:5432/NAME"),
        ("DATABASE_URL", "not-a-url",
         "DATABASE_URL is not a database URL like postgres://USER:PASSWORD@HOST:5432/NAME"),
        ("DATABASE_URL", "foo://app:pa55word@db/app",
         "DATABASE_URL is not a database URL like postgres://USER:PASSWORD@HOST:5432/NAME"),
        ("DJANGO_DEBUG", "1",
         "DJANGO_DEBUG is on: production settings refuse debug mode (it leaks settings and data)"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG is 'maybe', not true or false"),
    ],
    ids=["database-url-bad-port", "database-url-no-scheme", "database-url-unknown-scheme",
         "debug-on", "debug-neither-yes-nor-no"],
)  # fmt: skip
def test_container_with_a_bad_variable_exits_with_one_line(image, variable, value, message):
    result = start_with(image("default"), {**MINIMAL_PROD_ENV, variable: value})
    assert result.returncode != 0
    assert result.stderr.strip() == f"Configuration error: {message}"


def test_unusual_answers_build_and_serve_their_name(image):
    with engine.running(image("unusual"), MINIMAL_PROD_ENV) as container:
        client.poll(lambda: health_ok(container), HEALTH_DEADLINE, what="GET /health/ == 200")
        container.exec("python", "manage.py", "migrate", "--noinput")
        home = client.request(container.base_url + "/", headers=VIA_HTTPS)
    assert home.status == 200
    assert escape(UNUSUAL_ANSWERS["project_name"]) in home.text


def test_celery_is_installed_only_when_chosen(image, option_set):
    result = run_in_image(image(option_set), "celery", "--version")
    assert (result.returncode == 0) == (option_set == "celery")


def test_image_carries_oci_labels(image):
    labels = docker("image", "inspect", "-f", "{{json .Config.Labels}}", image("default")).stdout
    assert '"org.opencontainers.image.title":"my_service"' in labels


def pem_blocks(text):
    return set(re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S))


def secrets_to_look_for(project, runtime_tag):
    """Patterns (bytes) that must match nothing in an image: the baked .env's generated
    secrets; a PEM private key on a line of its own (TLS libraries hold self-test keys
    inside binary strings); and what the build's CA bundle secret adds to the base image's
    own certificates (the proxy's CA: the public ones are in every Debian image anyway)."""
    env_file = (project / ".env").read_text()
    values = dict(re.findall(r"^(DJANGO_SECRET_KEY|POSTGRES_PASSWORD)=(.+)$", env_file, re.M))
    assert len(values) == 2
    base_bundle = run_in_image(runtime_tag, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    added = pem_blocks(engine.CA_BUNDLE.read_text()) - pem_blocks(base_bundle)
    # The last full line of a certificate is part of its signature: unique to it, unbroken.
    values |= {
        f"CA bundle certificate {n}": block.splitlines()[-3] for n, block in enumerate(added)
    }
    # Named, so a finding says what leaked without printing it.
    patterns = {name: re.compile(re.escape(value.encode())) for name, value in values.items()}
    pem_key = rb"(?m)^-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/]{40}"
    patterns["PEM private key"] = re.compile(pem_key)
    return patterns


def layer_findings(layer, patterns, forbidden_names):
    """Every file in a layer tar whose name is forbidden or whose content matches."""
    findings = []
    with tarfile.open(fileobj=layer) as files:
        for member in files:
            name = Path(member.name)
            if forbidden_names & {name.name, *name.parts}:
                findings.append(f"{member.name}: forbidden name")
            if member.isfile():
                content = files.extractfile(member).read()
                findings += [
                    f"{member.name}: {name}"
                    for name, pattern in patterns.items()
                    if pattern.search(content)
                ]
    return findings


@pytest.mark.parametrize("target", ["runtime", "nginx"])
def test_no_layer_of_the_saved_image_holds_a_secret(bake, image, target, tmp_path):
    """`docker save`: every layer as shipped, including files a later layer deletes."""
    tag = image("default", target=target)
    patterns = secrets_to_look_for(bake(), image("default"))
    saved = tmp_path / "image.tar"
    docker("save", "--output", str(saved), tag)
    findings = []
    with tarfile.open(saved) as image_tar:
        (manifest,) = json.load(image_tar.extractfile("manifest.json"))
        for layer in manifest["Layers"]:
            findings += layer_findings(
                image_tar.extractfile(layer), patterns, {".env", ".git", "ca_bundle"}
            )
    assert len(manifest["Layers"]) > 3
    assert findings == []


@pytest.mark.parametrize("target", ["runtime", "nginx"])
def test_image_history_and_config_show_no_secret(bake, image, target):
    tag = image("default", target=target)
    patterns = secrets_to_look_for(bake(), image("default"))
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
    config = docker("image", "inspect", "--format", "{{json .Config}}", tag).stdout
    for text in (history, config):
        assert not [name for name, pattern in patterns.items() if pattern.search(text.encode())]
        assert not re.search(r"(SECRET|PASSWORD|TOKEN|PRIVATE|CA_BUNDLE)\w*=", text, re.I)


@pytest.mark.parametrize("target", ["runtime", "dev"])
def test_local_state_and_secrets_stay_out_of_the_build_context(image, target):
    """The dev image copies the whole context, so it shows what .dockerignore lets through."""
    paths = " ".join(["/app/.env", *(f"/app/{name}" for name in LOCAL_STATE)])
    found = run_in_image(image("default", target=target), "sh", "-c", f"ls -d {paths} 2>/dev/null")
    assert found.stdout.strip() == ""


def test_baked_test_suite_passes_in_the_dev_image(image, option_set):
    """The project's own tests, on the image's Python (the host may not have that version)."""
    result = run_in_image(image(option_set, target="dev"), "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


@pytest.mark.parametrize("compose_file", ["compose.yaml", "compose.prod.yaml"])
def test_compose_files_are_valid(bake, docker_engine, option_set, compose_file):
    result = engine.compose(bake(**OPTION_SETS[option_set]), compose_file, "config", "--quiet")
    assert result.returncode == 0, result.stderr


MIRROR = "registry.example.com/mirror/"


def images_named(project, compose_file, env):
    """Each service's image and build-stage base images, as `compose config` resolves them."""
    config = json.loads(
        engine.compose(project, compose_file, "config", "--format=json", env=env).stdout
    )
    named = set()
    for service in config["services"].values():
        named.add(service["image"])
        named.update(service.get("build", {}).get("args", {}).values())
    return named


@pytest.mark.parametrize("compose_file", ["compose.yaml", "compose.prod.yaml"])
def test_compose_images_default_to_official_ones_and_follow_a_mirror(
    bake, docker_engine, option_set, compose_file
):
    project = bake(**OPTION_SETS[option_set])
    unset = {variable: "" for variable in OFFICIAL_IMAGES}
    defaults = images_named(project, compose_file, unset) & set(OFFICIAL_IMAGES.values())
    official = OFFICIAL_IMAGES
    assert {official["PYTHON_IMAGE"], official["POSTGRES_IMAGE"]} <= defaults
    assert (official["NGINX_IMAGE"] in defaults) == (compose_file == "compose.prod.yaml")
    assert (official["REDIS_IMAGE"] in defaults) == (option_set == "celery")
    mirrored = {variable: MIRROR + image for variable, image in OFFICIAL_IMAGES.items()}
    assert {MIRROR + image for image in defaults} <= images_named(project, compose_file, mirrored)


@pytest.mark.parametrize("compose_file", ["compose.yaml", "compose.prod.yaml"])
def test_compose_builds_its_images_behind_a_tls_proxy(bake, docker_engine, compose_file):
    """`CA_BUNDLE=... docker compose build`, as a user behind a corporate proxy runs it."""
    tag = uuid.uuid4().hex[:8]
    images = {name: f"django-docker-test/compose-{name.lower()}:{tag}"
              for name in ("APP_IMAGE", "PROXY_IMAGE", "DEV_IMAGE")}  # fmt: skip
    env = {"CA_BUNDLE": str(engine.CA_BUNDLE), **images}
    try:
        # --no-cache: every download really happens, through the proxy, with the bundle.
        result = engine.compose(bake(), compose_file, "build", "--no-cache", env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        built = [
            image
            for image in images.values()
            if docker("image", "inspect", image, check=False).returncode == 0
        ]
        assert len(built) == (1 if compose_file == "compose.yaml" else 2)
    finally:
        docker("rmi", "--force", *images.values(), check=False)
