"""Stack stage: the baked compose stacks, up for real, seen from outside through nginx."""

import http.client
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from harness import client, engine
from harness.browser import CHROMIUM_FLAGS
from harness.figures import ARTIFACTS
from harness.stacks import PUBLIC_HOST, VIA_HTTPS, leftovers, stack_up
from harness.template import DEFAULT_SLUG, admin_path, chosen

LOGGED_REQUESTS = 20


def test_probes_answer_through_nginx(prod):
    assert prod.get("/health/").status == 200
    ready = prod.get("/health/ready/")
    assert (ready.status, json.loads(ready.body)) == (
        200, {"status": "ok", "database": "ok", "cache": "ok"},
    )  # fmt: skip


def test_home_page_renders_from_postgres_through_nginx(prod):
    home = prod.get("/")
    assert home.status == 200
    assert "0 users so far" in home.text


def test_forwarded_https_is_honoured_and_plain_http_is_redirected(prod):
    assert prod.get("/", headers=VIA_HTTPS).status == 200
    redirect = prod.get("/", headers={"Host": PUBLIC_HOST})
    assert redirect.status == 301
    assert redirect.headers["Location"] == f"https://{PUBLIC_HOST}/"


def test_unknown_host_gets_no_answer(prod):
    connection = http.client.HTTPConnection(prod.base_url.removeprefix("http://"), timeout=30)
    connection.request("GET", "/", headers={"Host": "attacker.example"})
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()


def test_no_answer_names_the_nginx_version_not_even_an_error_before_any_site(prod):
    """A request line too long for nginx's buffers is refused before the Host header is
    read, so by the catch-all server: its error page names no version either."""
    connection = http.client.HTTPConnection(prod.base_url.removeprefix("http://"), timeout=30)
    connection.request("GET", "/" + "x" * 16 * 1024, headers=VIA_HTTPS)
    refused = connection.getresponse()
    assert refused.status == 414
    assert refused.getheader("Server") == "nginx"
    assert b"nginx/" not in refused.read()


def test_uploads_up_to_ten_megabytes_pass_nginx_and_larger_ones_are_refused(prod):
    megabyte = 1024 * 1024
    # Over nginx's 1 MB default, so this proves client_max_body_size was raised: the body
    # reaches Django, which reads the form and rejects it for its missing CSRF token. (A
    # body Django never reads races gunicorn closing the connection: a 502 now and then.)
    form = {**VIA_HTTPS, "Content-Type": "application/x-www-form-urlencoded"}
    passed = prod.get("/", method="POST", headers=form, data=b"x=" + b"x" * (2 * megabyte))
    assert passed.status == 403
    refused = prod.get("/", method="POST", data=b"x" * (11 * megabyte))
    assert refused.status == 413
    assert "nginx" in refused.text


def test_metrics_are_not_public(prod):
    assert prod.get("/metrics").status == 404


def nginx_flush_seconds(project):
    """How long nginx may keep an access-log line in its buffer: `flush=` in its config."""
    configs = "".join(path.read_text() for path in project.glob("*/nginx/*.conf"))
    return max(map(int, re.findall(r"\bflush=(\d+)s\b", configs)), default=0)


def test_each_request_is_logged_once_by_nginx_with_the_time_gunicorn_took(prod):
    marker = f"log-check={uuid.uuid4().hex}"
    paths = [f"/health/?{marker}-{number}" for number in range(LOGGED_REQUESTS)]
    for path in paths:
        assert prod.get(path).status == 200
    answered = time.monotonic()
    late = f"/health/?{marker}-late"
    flush_seconds = nginx_flush_seconds(prod.project)

    def flushed_log():
        # A line written after every buffer holding the others was due to be flushed
        # comes after them in the log: once it is there, they all are.
        if time.monotonic() < answered + flush_seconds:
            return None
        prod.get(late)
        log = prod.compose("logs", "--no-log-prefix", "nginx").stdout
        return log if late in log else None

    log = client.poll(flushed_log, deadline=60, interval=0.5, what="nginx's log flushed")
    lines = [line for line in log.splitlines() if marker in line and late not in line]
    logged = [re.search(r"GET (\S+) ", line)[1] for line in lines]
    assert sorted(logged) == sorted(paths)
    for line in lines:
        assert re.search(r'" 200 .* upstream_time=\d+\.\d{3}$', line), line
    # gunicorn keeps no access log of its own: what web says of these requests, if
    # anything, is Django's one JSON line per request, under its requests logger.
    web_lines = [
        line for line in prod.compose("logs", "--no-log-prefix", "web").stdout.splitlines()
        if marker in line
    ]  # fmt: skip
    assert len(web_lines) <= len(paths) + 1, web_lines
    for line in web_lines:
        assert json.loads(line)["logger"] == f"{prod.project.name}.requests", line


def test_static_files_come_from_nginx_cached_and_compressed(prod):
    login = prod.get(admin_path(prod.project) + "login/").text
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login)[1]
    css = prod.get(stylesheet, headers={**VIA_HTTPS, "Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers["Server"] == "nginx"
    assert css.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in css.headers["Cache-Control"]
    assert "immutable" in css.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../docker/gunicorn.conf.py",
        "/static/../../../etc/passwd",
        "/static/..%2f..%2f..%2fetc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        # nginx's alias off-by-slash: /srv/static/../errors/ is a real sibling.
        "/static../errors/503.html",
        "/static/admin/..%2F..%2F..%2F..%2Fetc/nginx/nginx.conf",
    ],
)
def test_path_traversal_under_static_reveals_no_file(prod, path):
    # http.client sends the path exactly as written, with nothing normalised on the way.
    connection = http.client.HTTPConnection(prod.base_url.removeprefix("http://"), timeout=30)
    connection.request("GET", path, headers=VIA_HTTPS)
    response = connection.getresponse()
    body = response.read()
    assert response.status in (400, 404)
    for content in (b"root:", b"worker_processes", b"gunicorn", b"bind ="):
        assert content not in body


def test_admin_login_is_styled_in_a_real_browser(prod, option_set):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"admin-login-{option_set}.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        try:
            context = browser.new_context(extra_http_headers={"X-Forwarded-Proto": "https"})
            page = context.new_page()
            login = admin_path(prod.project) + "login/"
            page.goto(prod.base_url.replace("127.0.0.1", "localhost") + login)
            header = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
            button = page.eval_on_selector("input[type=submit]", "e => getComputedStyle(e).cursor")
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    # Unstyled, the header is transparent and the button keeps the default cursor.
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")
    assert button == "pointer"
    assert screenshot.stat().st_size > 5000


def test_nginx_config_passes_nginx_t(prod):
    result = prod.compose("exec", "nginx", "nginx", "-t", check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_migrations_ran_once_as_a_one_off_and_exited_zero(prod):
    (migrate,) = prod.containers("migrate")
    state = engine.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", migrate).stdout
    assert state.split() == ["exited", "0"]
    web_command = engine.docker("inspect", "-f", "{{json .Config.Cmd}}", *prod.containers("web"))
    assert "migrate" not in web_command.stdout


def test_web_runs_non_root_read_only_without_capabilities(prod):
    (web,) = prod.containers("web")
    config = json.loads(engine.docker("inspect", web).stdout)[0]["HostConfig"]
    assert config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"] and not config["CapAdd"]
    assert "no-new-privileges:true" in config["SecurityOpt"]
    assert config["Init"] is True
    inside = engine.docker(
        "exec", web, "sh", "-c",
        "id -u; grep CapEff /proc/1/status; grep CapEff /proc/self/status; touch /app/x 2>&1; true",
    ).stdout  # fmt: skip
    uid, pid1_caps, own_caps, touch = inside.strip().splitlines()
    assert uid == "10001"
    assert pid1_caps.split()[1] == own_caps.split()[1] == "0000000000000000"
    assert "Read-only file system" in touch


def test_every_long_running_service_is_healthy_and_restarts_on_failure(prod):
    states = {}
    for container in prod.containers():
        service, health, restart = engine.docker(
            "inspect", "-f",
            '{{index .Config.Labels "com.docker.compose.service"}}|'
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}|"
            "{{.HostConfig.RestartPolicy.Name}}",
            container,
        ).stdout.strip().split("|")  # fmt: skip
        states[service] = (health, restart)
    assert states.pop("migrate") == ("none", "no")
    assert states and set(states.values()) == {("healthy", "unless-stopped")}, states


def test_background_job_runs_on_the_worker(prod, option_set):
    """Queued from the command line (manage.py count_users); nothing on the web queues work."""
    assert prod.get("/jobs/count-users/", method="POST").status == 404
    counted = prod.compose("exec", "-T", "web", "python", "manage.py", "count_users", check=False)
    if not chosen(option_set, "use_celery"):
        assert "Unknown command: 'count_users'" in counted.stderr
        return
    assert counted.returncode == 0, counted.stderr
    assert re.fullmatch(r"job \S+: 0 users\n", counted.stdout)
    (worker,) = prod.containers("worker")
    assert "count_users" in engine.docker("logs", worker).stderr


@pytest.fixture(scope="module")
def dev(bake, image, tmp_path_factory):
    """compose.yaml up on a checkout owned by an ordinary user (uid 1000)."""
    project = Path(shutil.copytree(bake(), tmp_path_factory.mktemp("dev") / "checkout"))
    subprocess.run(["chown", "-R", "1000:1000", project], check=True)
    env = {"DEV_IMAGE": image("default", target="dev"), "DEV_UID": "1000", "DEV_GID": "1000"}
    yield from stack_up(project, "compose.yaml", env)


def test_dev_stack_reloads_edited_code_without_a_rebuild(dev):
    def home_says(text):
        return lambda: text in dev.get("/", headers={"Host": "localhost"}).text

    client.poll(home_says("It works."), 180, interval=0.2, what="dev home page")
    views = dev.project / DEFAULT_SLUG / "core/views.py"
    views.write_text(views.read_text().replace("settings.PROJECT_NAME", '"Edited live"'))
    client.poll(home_says("<h1>Edited live</h1>"), 90, interval=0.2, what="reloaded view")


def test_dev_stack_writes_files_as_the_user(dev):
    dev.compose("exec", "web", "python", "manage.py", "makemigrations", "core", "--empty")
    (migration,) = (dev.project / DEFAULT_SLUG / "core/migrations").glob("0001_*.py")
    assert migration.stat().st_uid == 1000


def test_teardown_leaves_nothing_behind_even_when_a_test_fails(bake, image):
    stacks = stack_up(bake(), "compose.yaml", {"DEV_IMAGE": image("default", target="dev")})
    stack = next(stacks)
    assert all(leftovers(stack.name).values())
    with pytest.raises(RuntimeError, match="a failing test"):
        stacks.throw(RuntimeError("a failing test"))
    assert leftovers(stack.name) == {"container": [], "network": [], "volume": []}
