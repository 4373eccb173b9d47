"""Bake stage: render the template and check the result, without Docker."""

import re
import subprocess

import pytest
import yaml

from harness.baked import (
    assert_ruff_clean,
    baked_files,
    run,
    synced,
    tool,
    unlisted_variables,
    uv_run,
)
from harness.template import (
    DEFAULT_SLUG,
    OPTION_SETS,
    PYTHON_VERSIONS,
    TEMPLATE,
    YES_NO_ANSWERS,
    optional_paths,
    project_env,
)

# Every combination of the answers that change which files are baked or what is in them:
# each must render, and pass the static gates.
COMBINATIONS = [
    {"use_celery": celery, "use_kubernetes": kubernetes, "python_version": python_version}
    for celery in "ny"
    for kubernetes in "ny"
    for python_version in PYTHON_VERSIONS
]


def combination_id(answers):
    return "-".join(f"{name.removeprefix('use_')}={value}" for name, value in answers.items())


OPTIONAL_PATHS = optional_paths()


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_every_combination_renders_without_leftover_template_syntax(bake, answers):
    project = bake(**answers)
    for path in baked_files(project):
        text = path.read_text(errors="replace")
        assert not re.search(r"{{ *cookiecutter|{%-? *(if|endif|for)", text), path
    python_version = answers["python_version"]
    assert f"python:{python_version}-slim" in (project / "Dockerfile").read_text()
    assert (project / ".python-version").read_text().strip() == python_version


def test_default_bake_has_the_documented_layout(bake):
    project = bake()
    for name in [
        "Dockerfile",
        ".dockerignore",
        ".env.example",
        ".env",
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "uv.lock",
        "compose.yaml",
        "compose.prod.yaml",
        "manage.py",
        "docker/gunicorn.conf.py",
        "docker/nginx/http.conf",
        "docker/nginx/app.conf",
        "docker/nginx/site.sh",
        "docker/acme/keep-certificate.sh",
        "config/settings/base.py",
        "config/settings/dev.py",
        "config/settings/prod.py",
        "config/settings/test.py",
        f"{DEFAULT_SLUG}/health/views.py",
        "tests/test_health.py",
    ]:
        assert (project / name).is_file(), name


def test_docker_holds_what_the_dockerfile_copies_and_deploy_where_the_images_run(bake):
    """docker/: what the Dockerfile copies into the images, what compose.prod.yaml mounts
    into an image of someone else's (the acme service's script in certbot's, the backup
    service's in Postgres'), and the kustomizations that make such a file a ConfigMap for
    deploy/k8s (kustomize reads files only beside a kustomization)."""
    project = bake(**dict.fromkeys(YES_NO_ANSWERS, "y"))
    copies = re.findall(r"^COPY (?!--from)(.+) \S+$", (project / "Dockerfile").read_text(), re.M)
    sources = [path for line in copies for name in line.split() if name != "."
               for path in project.glob(name)]  # fmt: skip
    assert not [path for path in sources if "deploy" in path.relative_to(project).parts]
    compose = (project / "compose.prod.yaml").read_text()
    mounts = re.findall(r"^ *- \./(docker/[^\s:]+):", compose, re.M)
    sources += [project / name for name in mounts]
    base = project / "deploy/k8s/base"
    resources = yaml.safe_load((base / "kustomization.yaml").read_text())["resources"]
    sources += [(base / name / "kustomization.yaml").resolve() for name in resources
                if (base / name).resolve().is_relative_to(project / "docker")]  # fmt: skip
    for path in (project / "docker").rglob("*"):
        if path.is_file():
            assert any(path == source or source in path.parents for source in sources), path


def test_dockerfile_is_one_production_chain_and_builds_runtime_by_default(bake):
    """tools → venv → runtime → nginx top-down, dev after them; `docker build .` builds the
    last stage, which must be the runtime image."""
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", (bake() / "Dockerfile").read_text(), re.M)
    assert [name for _, name in stages] == ["tools", "venv", "runtime", "nginx", "dev", ""]
    assert stages[-1][0] == "runtime"


# The baked README's sections, in a newcomer's order; the optional ones only in their bake.
def readme_sections(answers):
    def chosen(option):
        return answers.get(option) == "y"

    return [
        "Run it",
        "How a request flows",
        "Where to change what",
        "CI and git hooks",
        "Users and the admin",
        "Media",
        "Email",
        "Cache",
        "Durability",
        "Backups",
        "Logs",
        "Metrics",
        *(["Sentry"] if chosen("use_sentry") else []),
        "HTTPS",
        *(["Celery"] if chosen("use_celery") else []),
        "Docker Swarm",
        *(["Kubernetes"] if chosen("use_kubernetes") else []),
        "Keeping up to date",
        "Building behind a proxy or a mirror",
    ]


def readme_paths(readme):
    """The project files the README names: in `code` outside command blocks, and in the
    diagram's labels. (Commands may name files they create.)"""
    diagram = re.search(r"```mermaid\n(.*?)```", readme, re.S)[1].replace("<br/>", " ")
    prose = re.sub(r"```.*?```", "", readme, flags=re.S)
    spans = [span for span in re.findall(r"`([^`\s]+)`", prose) if "/" in span]
    labels = re.findall(r"[\w.-]+(?:/[\w.-]+)+", diagram)
    return {path for path in [*spans, *labels] if not path.startswith("/") and ":" not in path}


@pytest.mark.parametrize("answers", COMBINATIONS[:: len(PYTHON_VERSIONS)], ids=combination_id)
def test_readme_maps_this_bake_in_a_newcomers_order(bake, answers):
    project = bake(**answers)
    readme = (project / "README.md").read_text()
    sections = re.findall(r"^## (.+)$", readme, re.M)
    assert sections == readme_sections(answers)
    named = readme_paths(readme)
    assert {"docker/nginx/app.conf", "docker/nginx/site.sh", "docker/gunicorn.conf.py"} <= named
    assert not [path for path in named if not (project / path).exists()]


@pytest.mark.skipif("use_sentry" not in YES_NO_ANSWERS, reason="no use_sentry answer")
@pytest.mark.parametrize("use_sentry", ["y", "n"])
def test_readme_explains_sentry_only_when_chosen(bake, use_sentry):
    answers = {"use_sentry": use_sentry}
    readme = (bake(**answers) / "README.md").read_text()
    assert re.findall(r"^## (.+)$", readme, re.M) == readme_sections(answers)
    assert ("SENTRY_DSN" in readme) == (use_sentry == "y")


@pytest.mark.parametrize("chosen", ["y", "n"])
@pytest.mark.parametrize("option", OPTIONAL_PATHS)
def test_optional_files_exist_only_when_chosen(bake, option, chosen):
    # Every other option on, so that this one alone decides (the Celery worker's manifest
    # needs Kubernetes too).
    project = bake(**(dict.fromkeys(YES_NO_ANSWERS, "y") | {option: chosen}))
    for name in OPTIONAL_PATHS[option]:
        assert (project / name).exists() == (chosen == "y"), name


def services(project, compose_file):
    return yaml.safe_load((project / compose_file).read_text())["services"]


def app_environment(service):
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return environment


def run_command(service):
    """A service's command as one string, whether in exec form or `sh -c`."""
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


@pytest.mark.parametrize("use_celery", ["y", "n"])
def test_celery_services_exist_only_when_chosen(bake, use_celery):
    """The worker and beat come with Celery; prod's Redis is always there (the cache), dev's
    only as Celery's broker (dev's cache is each process's memory)."""
    project = bake(use_celery=use_celery)
    prod, dev = services(project, "compose.prod.yaml"), services(project, "compose.yaml")
    celery = {"worker", "beat"}
    assert (celery <= prod.keys()) == (celery <= dev.keys()) == (use_celery == "y")
    assert not (celery & prod.keys()) or celery <= prod.keys()
    assert "redis" in prod
    assert ("redis" in dev) == (use_celery == "y")


@pytest.mark.parametrize("use_celery", ["y", "n"])
def test_prod_app_caches_in_the_stacks_redis_and_web_waits_for_it(bake, use_celery):
    prod = services(bake(use_celery=use_celery), "compose.prod.yaml")
    for name, service in prod.items():
        if service.get("image") != prod["web"]["image"]:
            continue  # not the app
        cache = app_environment(service)["CACHE_URL"]
        assert re.search(r"redis://redis:\d+/\d+", cache), (name, cache)
    assert prod["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert prod["redis"]["healthcheck"]["test"]


def test_exactly_one_beat_runs_and_celery_prints_no_banner(bake):
    """A second beat would send every periodic task twice. Celery's banner is plain text
    on stdout, in the middle of the JSON lines: --quiet (a global option) drops it."""
    project = bake(use_celery="y")
    prod, dev = services(project, "compose.prod.yaml"), services(project, "compose.yaml")
    for stack in (prod, dev):
        beats = [s for s in stack.values() if re.search(r"celery .*\bbeat\b", run_command(s))]
        assert len(beats) == 1
        (beat,) = beats
        assert "replicas" not in beat.get("deploy", {}) and "scale" not in beat
    for name in ("worker", "beat"):
        command = prod[name]["command"]
        assert command[0] == "celery"
        assert command.index("--quiet") < command.index(name), name


def test_migrate_creates_the_superuser_once_the_schema_is_there(bake):
    command = run_command(services(bake(), "compose.prod.yaml")["migrate"])
    assert re.search(r"manage\.py migrate --noinput && (exec )?python manage\.py ensure_superuser$",
                     command), command  # fmt: skip


def nginx_locations(conf):
    """`location [modifier] pattern { body }` blocks of an nginx file (no nested blocks)."""
    return re.findall(r"^location\s+(?:(=|~\*?|\^~)\s+)?(\S+)\s*\{(.*?)^\}", conf, re.M | re.S)


def test_nginx_serves_uploads_from_the_volume_web_writes_never_as_a_page(bake):
    project = bake()
    prod = services(project, "compose.prod.yaml")

    def media_mounts(service):
        mounts = [volume.split(":") for volume in service["volumes"]]
        return [(target, options) for source, target, *options in mounts if source == "media"]

    # The volume the app writes its uploads to (MEDIA_ROOT), read-only in nginx.
    ((_, web_options),) = media_mounts(prod["web"])
    ((nginx_media, nginx_options),) = media_mounts(prod["nginx"])
    assert (web_options, nginx_options) == ([], ["ro"])
    conf = (project / "docker/nginx/app.conf").read_text()
    media = [loc for loc in nginx_locations(conf) if loc[1] == "/media/"]
    assert media, "no location /media/ in app.conf"
    ((modifier, _, body),) = media
    # ^~: no regex location (the login limit) takes an upload's path.
    assert modifier == "^~"
    assert re.search(rf"^\s*alias {re.escape(nginx_media.rstrip('/'))}/;", body, re.M)
    assert "proxy_pass" not in body and "include" not in body
    assert not re.search(r"autoindex\s+on", body)
    assert re.search(r"add_header X-Content-Type-Options nosniff always;", body)
    csp = re.search(r'add_header Content-Security-Policy "([^"]+)" always;', body)[1]
    assert {"default-src 'none'", "sandbox"} <= {part.strip() for part in csp.split(";")}
    assert "X-Request-ID $request_id always" in body  # add_header here hides the server's


def test_nginx_limits_logins_wherever_the_admin_is(bake):
    """DJANGO_ADMIN_URL moves the admin: the limit follows it, and the site's own login."""
    project = bake()
    env_file = (project / ".env").read_text()
    configured = re.findall(r"^DJANGO_ADMIN_URL=(\S+)$", env_file, re.M)
    admin_paths = ["admin/", "admin-3f9c1e7a/", "ops/backoffice/", *configured]
    conf = (project / "docker/nginx/app.conf").read_text()
    limited = [pattern for modifier, pattern, body in nginx_locations(conf)
               if modifier.startswith("~") and "limit_req zone=login" in body]  # fmt: skip
    for admin in admin_paths:
        for path in (f"/{admin}login/", "/accounts/login/"):
            assert any(re.search(pattern, path) for pattern in limited), path
    assert not any(re.search(pattern, "/admin/") for pattern in limited)


def test_the_client_gets_one_request_id(bake):
    """nginx adds X-Request-ID to every answer; Django's copy of it is hidden."""
    proxy = (bake() / "docker/nginx/proxy.conf").read_text()
    assert "proxy_set_header X-Request-ID $request_id;" in proxy
    assert "proxy_hide_header X-Request-ID;" in proxy


def test_lock_is_the_same_whatever_the_options(bake):
    locks = {
        (project / "uv.lock").read_text()
        for project in [
            bake(project_slug="same_name", **answers, python_version=version)
            for answers in OPTION_SETS.values()
            for version in PYTHON_VERSIONS
        ]
    }
    assert len(locks) == 1


def test_the_image_installs_the_uv_that_locks_the_project(bake):
    """The Dockerfile's uv reads the lock the host's uv (requirements-test.txt) writes."""
    host_uv = re.search(r"^uv==(\S+)$", (TEMPLATE / "requirements-test.txt").read_text(), re.M)[1]
    assert f"uv=={host_uv}" in (bake() / "Dockerfile").read_text()


def test_secrets_are_generated_per_project_and_kept_out_of_git_and_images(bake):
    first, second = bake(project_slug="first"), bake(project_slug="second")
    first_env, second_env = project_env(first), project_env(second)
    for name in ["DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"]:
        assert len(first_env[name]) >= 32
        assert first_env[name] != second_env[name]
        assert first_env[name] not in (first / ".env.example").read_text()
    assert (first / ".env").stat().st_mode & 0o077 == 0
    subprocess.run(["git", "init", "-q"], cwd=first, check=True)
    ignored = subprocess.run(["git", "check-ignore", ".env"], cwd=first, capture_output=True)
    assert ignored.returncode == 0
    assert "**/.env" in (first / ".dockerignore").read_text().splitlines()


def test_env_example_lists_every_variable_the_settings_read(bake):
    assert unlisted_variables(bake(use_celery="y")) == set()


@pytest.mark.parametrize(
    "read",
    ['flag("UNLISTED", default=False)', 'env.bool("UNLISTED", default=False)', 'env("UNLISTED")',
     'os.environ["UNLISTED"]', 'os.environ.get("UNLISTED")', 'os.getenv("UNLISTED")'],
)  # fmt: skip
def test_env_example_check_finds_a_variable_read_any_way(bake, read):
    assert unlisted_variables(bake(), f"import os\nfrom .base import env, flag\nX = {read}\n") == {
        "UNLISTED"
    }


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_baked_code_is_ruff_clean(bake, answers):
    assert_ruff_clean(bake(**answers))


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_baked_dockerfile_and_shell_scripts_pass_hadolint_and_shellcheck(bake, answers):
    project = bake(**answers)
    for command in (
        [tool("hadolint"), "Dockerfile"],
        [tool("shellcheck"), "docker/with-ca-bundle"],
    ):
        result = run(command, cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr


def test_template_shell_scripts_pass_shellcheck():
    scripts = [".ci/run", *(str(path.relative_to(TEMPLATE)) for path in TEMPLATE.glob("*/**/*.sh"))]
    result = run([tool("shellcheck"), *scripts], cwd=TEMPLATE)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_baked_project_test_suite_passes(bake, option_set):
    project = synced(bake(**OPTION_SETS[option_set]))
    result = uv_run(project, "run", "--locked", "--all-extras", "pytest", "-q")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout


def test_readme_and_ci_run_the_same_test_command():
    readme = (TEMPLATE / "README.md").read_text()
    command = re.search(r"```sh\n(?:.*\n)*?(python -m pytest.*)\n", readme).group(1)
    assert command in (TEMPLATE / ".ci/run").read_text()


def test_template_python_is_ruff_clean():
    """The hooks, tests and scripts; the baked sources are linted once rendered (above)."""
    assert_ruff_clean(TEMPLATE)
