"""Stack stage, the services a team builds on: the prod stack up for real with the servers
it talks to besides its own (harness/compose.sinks.yaml: an S3 stand-in, an SMTP sink, a
Sentry receiver), seen from outside through nginx over HTTPS under the site's own name, as a
user's browser sees it. Each check is something a user of the baked project does or reads:
the admin, an upload served back, a password-reset mail, a cache shared between processes,
a request followed through the logs, an error in Sentry, a periodic task, readiness.

Settings go into the bake's .env, as its README tells a user to; facts about the bake (its
admin path, its slug) are read from the bake. The site, and the readers of what the sinks
and the services printed, are in harness/sinks.py."""

import json
import os
import re
import secrets
import time
import uuid
from datetime import UTC, datetime

import pytest

from harness import client
from harness.browser import logged_in_to_admin
from harness.figures import ARTIFACTS, record_figures
from harness.sinks import (
    HEARTBEAT_SECONDS,
    S3_OVERRIDE,
    S3_PORT,
    S3Site,
    heartbeat_times,
    json_lines,
    messages_in_sink,
    public_read,
    sentry_events,
    site_up,
)
from harness.stacks import PUBLIC_HOST, free_port
from harness.tls import https_request

# What nginx must send with every uploaded file (the contract of the media location): the
# browser neither guesses a type nor runs anything in it.
MEDIA_CSP = ("default-src 'none'", "sandbox")
# A PNG's signature, so the avatar is what the field is for; random bytes after it, so a
# file that differs anywhere (re-encoded, truncated, gzipped on the way) is caught.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A page whose script, if it ran, would retitle it.
SCRIPTED_PAGE = "<!doctype html><title>inert</title><script>document.title = 'ran'</script>"


@pytest.fixture(scope="module")
def site(bake, image, option_set, tmp_path_factory):
    yield from site_up(bake, image, option_set, tmp_path_factory.mktemp("site"))


# ---- the admin and uploads ------------------------------------------------------------------


def logged_in(browser, site):
    """A page of the admin, logged in as the superuser .env created (ensure_superuser, run
    by the migrate service)."""
    user = site.superuser
    return logged_in_to_admin(browser, site.origin, site.admin, user["username"], user["password"])


def upload_avatar(page, site, file):
    """The superuser's own change page, its avatar set to `file`, saved; the link to the
    file the page then shows (a path on the site, or a URL elsewhere)."""
    page.goto(site.url(site.admin + "users/user/"))
    with page.expect_navigation():
        page.click(f'#result_list a:text-is("{site.superuser["username"]}")')
    page.set_input_files("#id_avatar", str(file))
    with page.expect_navigation():
        page.click("input[name=_continue]")
    saved = page.locator(".messagelist .success")
    assert saved.count() == 1, page.inner_text("body")[:1000]
    return page.get_attribute("p.file-upload a", "href")


def served_inert(answer):
    """The headers that keep an uploaded file from being interpreted: no type guessing,
    nothing loaded or run, in an origin of its own."""
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    for directive in MEDIA_CSP:
        assert directive in answer.headers["Content-Security-Policy"], answer.headers


def avatar_file(directory):
    avatar = directory / f"avatar-{uuid.uuid4().hex[:6]}.png"
    avatar.write_bytes(PNG_SIGNATURE + os.urandom(64 * 1024))
    return avatar


def test_superuser_from_the_environment_uploads_an_avatar_nginx_serves_unchanged(
    site, option_set, tmp_path
):
    avatar = avatar_file(tmp_path)
    with site.browser(tmp_path) as browser:
        page = logged_in(browser, site)
        link = upload_avatar(page, site, avatar)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"avatar-uploaded-{option_set}.png", full_page=True)
    assert link.startswith("/media/avatars/"), link
    served = site.get(link)
    assert served.status == 200
    assert served.body == avatar.read_bytes()
    served_inert(served)


def test_an_uploaded_html_page_is_served_but_never_run(site, tmp_path):
    page_file = tmp_path / "page.html"
    page_file.write_text(SCRIPTED_PAGE)
    with site.browser(tmp_path) as browser:
        page = logged_in(browser, site)
        link = upload_avatar(page, site, page_file)
        page.goto(site.url(link))
        title = page.title()
    # Opened in a browser: shown, its script not run.
    assert title == "inert"
    served = site.get(link)
    assert (served.status, served.text) == (200, SCRIPTED_PAGE)
    served_inert(served)


def test_uploads_are_never_listed(site, tmp_path):
    with site.browser(tmp_path) as browser:
        link = upload_avatar(logged_in(browser, site), site, avatar_file(tmp_path))
    folder = link.rsplit("/", 1)[0] + "/"
    for path in (folder, "/media/"):
        listing = site.get(path)
        assert listing.status in (403, 404), path
        assert link.rsplit("/", 1)[1] not in listing.text


# ---- email ----------------------------------------------------------------------------------


def test_password_reset_mails_a_working_link_for_the_domain_through_smtp(site, tmp_path):
    address = site.superuser["email"]
    with site.browser(tmp_path) as browser:
        page = browser.new_page()
        page.goto(site.url("/accounts/password_reset/"))
        page.fill("#id_email", address)
        with page.expect_navigation():
            page.click("input[type=submit]")
        assert page.url == site.url("/accounts/password_reset/done/"), page.inner_text("body")

        def mailed():
            sent = [m for m in messages_in_sink(site.log("smtp")) if address in m["To"]]
            return sent[-1] if sent else None

        message = client.poll(mailed, 30, interval=0.5, what=f"a mail to {address} in the sink")
        body = message.get_body(("plain",)).get_content()
        # The link names the site as the browser asked for it (the test's port included).
        link = re.search(
            rf"https://{re.escape(PUBLIC_HOST)}(?::{site.stack.https_port})?"
            r"(/accounts/reset/[\w-]+/[\w-]+/)",
            body,
        )
        assert link, body
        assert message["From"].endswith(f"@{PUBLIC_HOST}") or f"@{PUBLIC_HOST}>" in message["From"]
        # Followed: the form for a new password, not "invalid link".
        page.goto(site.url(link[1]))
        assert page.locator("#id_new_password1").count() == 1, page.inner_text("body")[:500]


# ---- cache ----------------------------------------------------------------------------------


def in_new_process(site, code):
    """`code` run by a new Python process in the web container, with the app's own
    settings (the image's prod module and .env): what it prints."""
    return site.stack.compose(
        "exec", "-T", "web", "python", "manage.py", "shell", "--verbosity=0", "--no-imports",
        "-c", code,
    ).stdout.strip()  # fmt: skip


def test_a_cached_value_is_shared_between_processes_and_survives_a_web_restart(site):
    """Each gunicorn worker is a process of its own, and no view here caches anything a
    test could see: so two processes with the workers' settings, one after the other,
    stand in for two workers. A per-process cache (Django's local-memory default) fails
    here, as it would leave each worker and each replica with its own."""
    key, value = f"stack-test-{uuid.uuid4().hex}", uuid.uuid4().hex
    cache = "from django.core.cache import cache;"
    in_new_process(site, f"{cache} cache.set({key!r}, {value!r}, 600)")
    assert in_new_process(site, f"{cache} print(cache.get({key!r}))") == value
    site.stack.compose("restart", "web")
    site.stack.up("web")
    assert in_new_process(site, f"{cache} print(cache.get({key!r}))") == value


# ---- logs -----------------------------------------------------------------------------------


def test_a_request_id_is_in_nginx_access_line_and_djangos_json_line(site):
    status, headers, _ = https_request(
        site.stack.https_port, PUBLIC_HOST, site.context, "/", every_header=True
    )
    assert status == 200
    ids = [value for name, value in headers if name.lower() == "x-request-id"]
    # nginx's, once: Django does not answer with a second one.
    assert len(ids) == 1, headers
    (request_id,) = ids
    client.poll(lambda: f"request_id={request_id}" in site.log("nginx"), 10, interval=0.2,
                what="the request id in nginx's access line")  # fmt: skip

    def djangos_lines():
        records = [r for r in json_lines(site.log("web")) if isinstance(r, dict)]
        return [r for r in records if r.get("request_id") == request_id]

    lines = client.poll(djangos_lines, 10, interval=0.2, what="the request id in web's log")
    assert [line["logger"] for line in lines] == [f"{site.slug}.requests"], lines
    assert lines[0]["level"] == "INFO"


def test_every_line_web_prints_is_a_json_object_with_the_common_fields(site):
    # Some answers of each kind first: a page, a 404, a probe.
    for path in ("/", "/no-such-page/", "/health/ready/"):
        site.get(path)
    records = json_lines(site.log("web"))
    not_json = [record for record in records if not isinstance(record, dict)]
    assert records and not not_json, not_json[:5]
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), record


@pytest.mark.only_with("use_celery")
def test_celery_worker_and_beat_print_json_lines_only(site, option_set):
    for service in ("worker", "beat"):
        records = json_lines(site.log(service))
        not_json = [record for record in records if not isinstance(record, dict)]
        assert records and not not_json, (service, not_json[:5])


# ---- Sentry ---------------------------------------------------------------------------------


@pytest.mark.only_with("use_sentry")
def test_an_exception_in_a_view_reaches_sentry_with_its_request_id(site, option_set):
    """The exception is a real one from a shipped view: the home page counts users, and
    the database is stopped under it. No view that raises on purpose ships to production,
    and nothing here adds one: the request goes through nginx like any other."""
    try:
        site.stack.compose("stop", "db")
        failed = site.get("/")
    finally:
        site.stack.up("db")
    assert failed.status == 500
    request_id = failed.headers["X-Request-ID"]

    def reported():
        tagged = [
            e for e in sentry_events(site) if e.get("tags", {}).get("request_id") == request_id
        ]
        return tagged[0] if tagged else None

    event = client.poll(reported, 30, interval=0.5, what="a Sentry event with the request id")
    (exception,) = [value["type"] for value in event["exception"]["values"][-1:]]
    assert exception == "OperationalError", event["exception"]
    client.poll(lambda: site.get("/health/ready/").status == 200, 60, interval=0.5,
                what="ready again with the database back")  # fmt: skip


# ---- Celery beat ----------------------------------------------------------------------------


@pytest.mark.only_with("use_celery")
def test_beat_runs_the_heartbeat_on_the_worker_every_interval(site, option_set):
    assert len(site.stack.containers("beat")) == 1
    since = datetime.now(UTC)
    beats = client.poll(
        lambda: (times := heartbeat_times(site, since))[2:] and times, 4 * HEARTBEAT_SECONDS + 30,
        interval=0.5, what="three heartbeats on the worker",
    )  # fmt: skip
    gaps = [
        (later - earlier).total_seconds() for earlier, later in zip(beats, beats[1:], strict=False)
    ]
    record_figures("stack", "heartbeat", interval_seconds=HEARTBEAT_SECONDS, gaps_seconds=gaps)
    # On time (beat wakes up at most a second late), and once per interval: one beat.
    assert all(HEARTBEAT_SECONDS / 2 < gap < HEARTBEAT_SECONDS + 1.5 for gap in gaps), gaps
    assert (beats[0] - since).total_seconds() < HEARTBEAT_SECONDS + 1.5


# ---- readiness ------------------------------------------------------------------------------


def test_readiness_reports_the_cache_and_when_it_is_down_says_only_that(site):
    ready = site.get("/health/ready/")
    assert (ready.status, json.loads(ready.body)) == (
        200, {"status": "ok", "database": "ok", "cache": "ok"},
    )  # fmt: skip
    try:
        stopping = time.monotonic()
        site.stack.compose("stop", "redis")
        down = client.poll(lambda: (answer := site.get("/health/ready/")).status == 503 and answer,
                           15, interval=0.2, what="ready 503")  # fmt: skip
        seconds_to_503 = time.monotonic() - stopping
    finally:
        site.stack.compose("start", "redis")
    body = json.loads(down.body)
    assert (body["database"], body["cache"]) == ("ok", "unavailable"), body
    # Which dependency is down, publicly; never where it is or what it said.
    assert set(body) == {"status", "database", "cache"}, body
    for detail in ("redis", "6379", "error", "refused", "timeout", "traceback"):
        assert detail not in down.text.lower()
    healing = time.monotonic()
    client.poll(lambda: site.get("/health/ready/").status == 200, 60, interval=0.2,
                what="ready 200 with redis back")  # fmt: skip
    record_figures("stack", "redis stopped", seconds_to_ready_503=round(seconds_to_503, 2),
                   seconds_to_ready_200=round(time.monotonic() - healing, 2))  # fmt: skip
    # Whatever else lost redis (a worker, beat) is back too before the stack is handed on.
    site.stack.up()


# ---- S3 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_site(bake, image, tmp_path_factory):
    """The default bake with uploads in the S3 stand-in: storage is configuration, the
    same in every image. The credentials as Docker secrets (AWS_*_FILE); files served from
    the stand-in's published address (AWS_S3_CUSTOM_DOMAIN), as from a CDN in front of a
    bucket."""
    directory = tmp_path_factory.mktemp("s3-site")
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    published = free_port()
    credentials = {
        "AWS_ACCESS_KEY_ID_SECRET": ("AKIA" + secrets.token_hex(8).upper()),
        "AWS_SECRET_ACCESS_KEY_SECRET": secrets.token_urlsafe(30),
    }
    for name, value in credentials.items():
        path = directory / name.lower()
        path.write_text(value)  # no newline: the settings read the file as the key
        path.chmod(0o644)
        credentials[name] = str(path)
    settings = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": f"http://s3:{S3_PORT}",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID_FILE": "/run/secrets/aws_access_key_id",
        "AWS_SECRET_ACCESS_KEY_FILE": "/run/secrets/aws_secret_access_key",
        "AWS_S3_CUSTOM_DOMAIN": f"127.0.0.1:{published}/{bucket}",
        "AWS_S3_URL_PROTOCOL": "http:",
    }
    # The published port and the secrets' files are compose's to know, not the app's.
    compose_env = {"S3_PORT": str(published), **credentials}
    for site in site_up(bake, image, "default", directory, [S3_OVERRIDE], compose_env, **settings):
        s3 = S3Site(site, bucket)
        created = client.request(f"{s3.endpoint}/{bucket}", method="PUT")
        assert created.status == 200, created.text
        # Anyone may read its objects, as behind a public domain for media (a CDN): the
        # app keeps its uploads private otherwise, and signs no URL for a custom domain.
        readable = client.request(
            f"{s3.endpoint}/{bucket}?policy", method="PUT", data=public_read(bucket),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        assert readable.status in (200, 204), readable.text
        yield s3


def test_with_s3_settings_the_upload_lands_in_the_bucket_and_is_served_from_it(s3_site, tmp_path):
    site = s3_site.site
    avatar = avatar_file(tmp_path)
    with site.browser(tmp_path) as browser:
        link = upload_avatar(logged_in(browser, site), site, avatar)
    served_from = f"{s3_site.endpoint}/{s3_site.bucket}/"
    assert link.startswith(served_from + "avatars/"), link
    key = link.removeprefix(served_from)
    assert key in s3_site.listed_keys()
    served = client.request(link)
    assert served.status == 200
    assert served.body == avatar.read_bytes()
    # Not on the media volume: nginx has nothing under that name.
    assert site.get("/media/" + key).status == 404
