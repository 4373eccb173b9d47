"""Build stage: build the baked project's images on a real engine, run them, look inside."""

import json
import re
import secrets
import shlex
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from html import escape

import pytest

from harness import client, engine
from harness.engine import docker, run_in_image, start_period, verdict, wait_until_healthy
from harness.stacks import VIA_HTTPS, compose_files, compose_services, images_named
from harness.template import (
    DEFAULT_SLUG,
    LOCAL_STATE_CONTENT,
    OFFICIAL_IMAGES,
    OPTION_SETS,
    UNUSUAL_ANSWERS,
    chosen,
    local_state,
)

MINIMAL_PROD_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "sqlite:////tmp/db.sqlite3",
}


def health_ok(container):
    return client.request(container.base_url + "/health/").status == 200


@pytest.fixture(scope="module")
def web(image, option_set):
    """The runtime image serving with the minimal production environment and SQLite."""
    tag = image(option_set)
    deadline = start_period(tag)
    started = time.monotonic()
    with engine.running(tag, MINIMAL_PROD_ENV, "--env=WEB_CONCURRENCY=3") as container:
        client.poll(lambda: health_ok(container), deadline, what="GET /health/ == 200")
        container.seconds_to_health = time.monotonic() - started
        container.start_period = deadline
        yield container


def test_runtime_answers_health_within_its_start_period(web):
    assert web.seconds_to_health < web.start_period
    ready = client.request(web.base_url + "/health/ready/")
    assert (ready.status, json.loads(ready.body)) == (
        200, {"status": "ok", "database": "ok", "cache": "ok"},
    )  # fmt: skip


def test_runtime_starts_without_errors_in_its_log(web):
    # By the time Docker has seen a passing HEALTHCHECK, start-up is well over.
    wait_until_healthy(web.name, web.start_period + 10)
    logs = docker("logs", web.name)
    log = logs.stdout + logs.stderr
    assert "Booting worker" in log
    assert "Traceback" not in log
    for line in filter(str.strip, log.splitlines()):
        # JSON lines in production (DJANGO_LOG_FORMAT's default), gunicorn's own included.
        assert json.loads(line)["level"] not in ("ERROR", "CRITICAL"), line


def test_runtime_runs_as_a_numeric_non_root_user(web, image, option_set):
    assert (
        docker("image", "inspect", "-f", "{{.Config.User}}", image(option_set)).stdout.strip()
        == "10001:10001"
    )
    assert web.exec("id", "-u").stdout.strip() == "10001"


def test_runtime_has_no_compiler_pip_or_uv(image, option_set):
    found = verdict(
        image(option_set),
        "for tool in gcc cc c++ make pip pip3 uv; do command -v $tool || true; done;"
        "if python -c 'import pip' 2>/dev/null; then echo 'import pip'; fi",
    )
    assert found == ""


def test_runtime_has_no_package_manager_caches(image, option_set):
    leftovers = run_in_image(
        image(option_set), "sh", "-c",
        "find / -xdev \\( -name .cache -o -name '*.deb' -o -name '*.whl' \\) -print;"
        "find /var/lib/apt/lists -type f ! -name lock;"
        "find /tmp /var/tmp -mindepth 1",
        user="0",
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
    wait_until_healthy(web.name, web.start_period + 10)


# Each worker's own count of 404 answers, from the files prometheus_client shares between
# gunicorn's processes (one per worker pid).
PER_WORKER_404S = """
import glob, json
from prometheus_client.mmap_dict import MmapedDict
counts = []
for path in glob.glob("/dev/shm/prometheus/counter_*.db"):
    samples = MmapedDict.read_all_values_from_file(path)
    counts.append(sum(value for key, value, *_ in samples
                      if json.loads(key)[1] == "django_http_responses_total_by_status_total"
                      and '"404"' in key))
print(json.dumps(counts))
"""


def test_metrics_count_requests_served_by_every_worker(web):
    """/metrics sums every worker's count exactly, and the requests really reached several
    workers. 404s, because nothing else answers one (the health check is 200)."""

    def not_found_counted():
        body = client.request(web.base_url + "/metrics").text
        pattern = r'^django_http_responses_total_by_status_total\{status="404"\} (\S+)'
        found = re.search(pattern, body, re.M)
        return float(found[1]) if found else 0.0

    before = not_found_counted()
    requests = 60
    with ThreadPoolExecutor(max_workers=24) as pool:  # more at once than one worker's threads
        statuses = list(pool.map(
            lambda n: client.request(f"{web.base_url}/no-such-page-{n}/", headers=VIA_HTTPS).status,
            range(requests),
        ))  # fmt: skip
    assert statuses == [404] * requests
    assert not_found_counted() == before + requests
    per_worker = json.loads(web.exec("python", "-c", PER_WORKER_404S).stdout)
    assert sum(per_worker) == before + requests
    assert sum(count > 0 for count in per_worker) >= 2, per_worker


def test_static_files_are_collected_into_the_image(web):
    listing = web.exec("sh", "-c", "ls /app/staticfiles/admin/css/").stdout.split()
    assert re.search(r"^base\.[0-9a-f]{12}\.css$", "\n".join(listing), re.M)
    web.exec("test", "-s", "/app/staticfiles/staticfiles.json")


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
    result = web.exec("sh", "-c", "touch /app/config/x 2>/dev/null && echo written || echo denied")
    assert result.stdout.strip() == "denied"
    web.exec("touch", "/app/media/upload-test")


def start_with(tag, env):
    """The image's own command in the foreground, with only `env` set."""
    return docker("run", "--rm", *engine.env_flags(env), tag, check=False, timeout=180)


def exited_with_one_line(result, message):
    """Exit status 1, the app's own (sys.exit with a message), not the engine's or the
    shell's (125-127: the container or its command could not start)."""
    assert (result.returncode, result.stderr.strip()) == (1, f"Configuration error: {message}")


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_container_without_a_required_variable_exits_with_one_line(image, missing):
    env = {name: value for name, value in MINIMAL_PROD_ENV.items() if name != missing}
    exited_with_one_line(
        start_with(image("default"), env), f"Set the {missing} environment variable"
    )


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
    exited_with_one_line(
        start_with(image("default"), {**MINIMAL_PROD_ENV, variable: value}), message
    )


# Settings of the services the app talks to, each wrong in a way a user gets it wrong: the
# container must stop with one line naming the variable, and never print its value (a URL
# or a key can hold a password). Values distinctive enough to be found if printed.
MISCONFIGURED_SERVICES = {
    "email-url-malformed": ("EMAIL_URL", {"EMAIL_URL": "smtp://mailer:pa55-mail@smtp:port"}),
    "email-url-unknown-scheme": ("EMAIL_URL", {"EMAIL_URL": "carrier-pigeon://loft.example"}),
    "bucket-without-secret-key": ("AWS_SECRET_ACCESS_KEY", {
        "AWS_STORAGE_BUCKET_NAME": "uploads-bucket-named", "AWS_ACCESS_KEY_ID": "AKIAKEYIDNAMED",
    }),
    "bucket-without-key-id": ("AWS_ACCESS_KEY_ID", {
        "AWS_STORAGE_BUCKET_NAME": "uploads-bucket-named", "AWS_SECRET_ACCESS_KEY": "s3cr3t-named",
    }),
    "log-format-unknown": ("DJANGO_LOG_FORMAT", {"DJANGO_LOG_FORMAT": "yaml-please"}),
    "admin-url-leading-slash": ("DJANGO_ADMIN_URL", {"DJANGO_ADMIN_URL": "/back-office-x/"}),
    "admin-url-no-trailing-slash": ("DJANGO_ADMIN_URL", {"DJANGO_ADMIN_URL": "back-office-y"}),
    "cache-url-malformed": ("CACHE_URL", {"CACHE_URL": "redis://cache-host-named:port/1"}),
}  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "settings"), MISCONFIGURED_SERVICES.values(), ids=MISCONFIGURED_SERVICES
)
def test_container_with_a_misconfigured_service_exits_with_one_line_naming_it(
    image, variable, settings
):
    name = f"misconfigured-{uuid.uuid4().hex[:8]}"
    try:
        env = engine.env_flags({**MINIMAL_PROD_ENV, **settings})
        result = docker("run", "--rm", f"--name={name}", *env, image("default"), check=False,
                        timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        docker("rm", "--force", name, check=False)
        pytest.fail(f"started and kept running with a bad {variable}")
    lines = result.stderr.strip().splitlines()
    # The app's own exit (sys.exit with a message), not the engine's or the shell's.
    assert result.returncode not in (0, 125, 126, 127), result.stderr
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    for value in settings.values():
        assert value not in lines[0]


def test_a_superuser_name_without_a_password_stops_with_one_line(image):
    """ensure_superuser (run by the stack's migrate service) with DJANGO_SUPERUSER_USERNAME
    and no password: no half-made account, one line naming what is missing."""
    result = docker(
        "run", "--rm", *engine.env_flags({**MINIMAL_PROD_ENV, "DJANGO_SUPERUSER_USERNAME": "boss"}),
        "--entrypoint", "sh", image("default"), "-c",
        "python manage.py migrate --noinput >/dev/null 2>&1 && python manage.py ensure_superuser",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "DJANGO_SUPERUSER_PASSWORD" in line


def test_unusual_answers_build_and_serve_their_name(image):
    tag = image("unusual")
    with engine.running(tag, MINIMAL_PROD_ENV) as container:
        client.poll(lambda: health_ok(container), start_period(tag), what="GET /health/ == 200")
        container.exec("python", "manage.py", "migrate", "--noinput")
        home = client.request(container.base_url + "/", headers=VIA_HTTPS)
    assert home.status == 200
    assert escape(UNUSUAL_ANSWERS["project_name"]) in home.text


# What each image-changing answer installs: how the image tells that package's version,
# and what the version looks like.
INSTALLED_WHEN_CHOSEN = {
    "use_celery": ("celery --version", r"\d+\.\d+\.\d+ .*"),
    "use_sentry": ("python -c 'import sentry_sdk; print(sentry_sdk.VERSION)'", r"\d+\.\d+\.\d+"),
}


@pytest.mark.parametrize("answer", INSTALLED_WHEN_CHOSEN)
def test_an_optional_package_is_installed_only_when_chosen(image, option_set, answer):
    version_command, version = INSTALLED_WHEN_CHOSEN[answer]
    found = verdict(image(option_set), f"{version_command} 2>/dev/null || echo absent")
    if chosen(option_set, answer):
        assert re.fullmatch(version, found), found
    else:
        assert found == "absent"


def test_image_carries_oci_labels(image):
    labels = docker("image", "inspect", "-f", "{{json .Config.Labels}}", image("default")).stdout
    assert json.loads(labels)["org.opencontainers.image.title"] == DEFAULT_SLUG


@pytest.mark.parametrize("target", ["runtime", "dev"])
def test_local_state_and_secrets_stay_out_of_the_build_context(built_image, target):
    """The dev image copies the whole context, so it shows what .dockerignore lets through;
    the runtime copies whole folders, where state planted deeper down would ride along."""
    image = built_image("default", target)
    paths = " ".join(shlex.quote(f"/app/{name}") for name in [".env", *local_state(image.project)])
    found = verdict(
        image.tag,
        f"for path in {paths}; do if [ -e $path ]; then echo $path; fi; done;"
        # Every planted file holds this line, whatever name it reached the image under.
        f"grep -rlF {shlex.quote(LOCAL_STATE_CONTENT)} /app || [ $? = 1 ]",
    )
    assert found == ""


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


def test_compose_files_pull_official_images_each_through_its_mirror_variable(
    bake, docker_engine, option_set
):
    """Every image a compose file names, but the project's own, defaults to its official
    image and follows its mirror variable alone: a hard-coded image fails either way."""
    project = bake(**OPTION_SETS[option_set])
    unset = dict.fromkeys(OFFICIAL_IMAGES, "")
    named = {name: images_named(project, name, unset) for name in compose_files(project)}
    own = set().union(*(built for _, built, _ in named.values()))
    pulled = {name: (run - own) | bases for name, (run, _, bases) in named.items()}
    for compose_file, images in pulled.items():
        assert images <= set(OFFICIAL_IMAGES.values()), compose_file
        for variable, official in OFFICIAL_IMAGES.items():
            run, _, bases = images_named(
                project, compose_file, {**unset, variable: MIRROR + official}
            )
            expected = {MIRROR + image if image == official else image for image in images}
            assert (run - own) | bases == expected, (compose_file, variable)
    # Redis too, whatever the options: the prod stack's shared cache.
    assert set().union(*pulled.values()) == set(OFFICIAL_IMAGES.values())


def test_dockerfile_builds_only_from_its_stages_and_mirrorable_official_images(
    bake, docker_engine, option_set
):
    """Each FROM or --from is a stage of the Dockerfile or an ARG *_IMAGE whose default is
    the official image, and which the compose files pass on (the mirror reaches it)."""
    project = bake(**OPTION_SETS[option_set])
    dockerfile = (project / "Dockerfile").read_text()
    image_args = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", dockerfile, re.M))
    assert image_args == {name: OFFICIAL_IMAGES[name] for name in image_args}
    stages = set()
    for source, stage in re.findall(
        r"^FROM (?:--\S+ )*(\S+)(?: AS (\S+))?$", dockerfile, re.M | re.I
    ):
        variable = re.fullmatch(r"\$\{(\w+)\}", source)
        assert source in stages or (variable and variable[1] in image_args), source
        stages.add(stage)
    for source in re.findall(r"--from=([^\s,]+)", dockerfile):
        assert source in stages, source
    unset = dict.fromkeys(OFFICIAL_IMAGES, "")
    passed = set()
    for compose_file in compose_files(project):
        for service in compose_services(project, compose_file, unset).values():
            passed |= set(service.get("build", {}).get("args", {}))
    assert set(image_args) <= passed
