"""The prod stack with the servers it talks to besides its own beside it (compose.sinks.yaml:
an S3 stand-in, an SMTP sink, a Sentry receiver), for the stack stage's service tests: the
site over HTTPS under its own name, and what the sinks and the app's services printed."""

import ast
import email
import email.policy
import json
import re
import secrets
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from harness import client
from harness.browser import chromium_trusting
from harness.sentry_receiver import PORT as SENTRY_RECEIVER_PORT
from harness.stacks import PUBLIC_HOST, Stack, free_port, stack_up
from harness.template import (
    OFFICIAL_IMAGES,
    OPTION_SETS,
    TEMPLATE,
    TEST_IMAGES,
    add_to_env,
    admin_path,
    chosen,
)
from harness.tls import Authority, https_request, trusting

SINKS_OVERRIDE = str(TEMPLATE / "harness/compose.sinks.yaml")
S3_OVERRIDE = str(TEMPLATE / "harness/compose.s3.yaml")
SENTRY_RECEIVER_SCRIPT = TEMPLATE / "harness/sentry_receiver.py"
# Where the SMTP stand-in listens (its image's command: aiosmtpd -l 0.0.0.0:1025).
SMTP_PORT = 1025
# The S3 stand-in's port inside the stack (moto's server, as its official image runs it).
S3_PORT = 5000
# The periodic example task's interval for the test (60 s by default): short, so two runs
# of it are seen within seconds.
HEARTBEAT_SECONDS = 2


@dataclass
class Site:
    """The prod stack serving HTTPS with a certificate from a CA made for the test
    (TLS_MODE=files), reached under its own name on the published port."""

    stack: Stack
    authority: Authority
    directory: Path
    superuser: dict

    @property
    def origin(self):
        return f"https://{PUBLIC_HOST}:{self.stack.https_port}"

    def url(self, path):
        return self.origin + path

    @property
    def admin(self):
        return admin_path(self.stack.project)

    @property
    def slug(self):
        """The baked project's package: its directory is named after it."""
        return self.stack.project.name

    @cached_property
    def context(self):
        ca_file = self.directory / "ca.pem"
        ca_file.write_bytes(self.authority.pem)
        return trusting(ca_file)

    def get(self, path, headers=None, method="GET"):
        status, received, body = https_request(
            self.stack.https_port, PUBLIC_HOST, self.context, path, method, headers
        )
        return client.Response(status, received, body)

    def browser(self, tmp_path):
        return chromium_trusting(self.authority.pem, tmp_path / "home", PUBLIC_HOST)

    def log(self, service, since=None, timestamps=False):
        """A service's log, from `since` (an aware datetime) on; each line as printed, or
        after the time Docker took it (`timestamps`), which the app cannot get wrong."""
        args = ["--no-log-prefix", *(["--timestamps"] if timestamps else [])]
        if since:
            args += ["--since", since.isoformat()]
        log = self.stack.compose("logs", *args, service).stdout
        # Without the terminal codes compose puts before each line (an erase-line code).
        return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", log)


def sinks_env():
    """What compose.sinks.yaml reads from compose's environment: its images, and a free
    port on loopback for the S3 stand-in."""
    return {
        "S3_IMAGE": TEST_IMAGES["s3"],
        "S3_PORT": str(free_port()),
        "SMTP_IMAGE": TEST_IMAGES["smtp"],
        "SENTRY_RECEIVER_IMAGE": OFFICIAL_IMAGES["PYTHON_IMAGE"],
        "SENTRY_RECEIVER_SCRIPT": str(SENTRY_RECEIVER_SCRIPT),
    }


def site_up(bake, image, option_set, directory, overrides=(), compose_env=None, **settings):
    """The prod stack of a bake of `option_set` with the sinks (and `overrides`, which
    `compose_env` fills in), serving HTTPS with a test CA's certificate; the superuser and
    the sinks' addresses in its .env with `settings`."""
    project = bake(**OPTION_SETS[option_set])
    authority = Authority.make("django-docker service tests CA")
    certificate, key = authority.write(directory, [PUBLIC_HOST])
    for path in (certificate, key):
        path.chmod(0o644)  # handed to nginx as secrets: bind mounts keep the host's modes
    superuser = {
        "username": f"admin-{uuid.uuid4().hex[:6]}",
        "email": f"admin@{PUBLIC_HOST}",
        "password": secrets.token_urlsafe(16),
    }
    if chosen(option_set, "use_celery"):
        settings["JOBS_HEARTBEAT_SECONDS"] = HEARTBEAT_SECONDS
    if chosen(option_set, "use_sentry"):
        settings["SENTRY_DSN"] = f"http://public@sentry:{SENTRY_RECEIVER_PORT}/1"
    add_to_env(
        project,
        DJANGO_SUPERUSER_USERNAME=superuser["username"],
        DJANGO_SUPERUSER_EMAIL=superuser["email"],
        DJANGO_SUPERUSER_PASSWORD=superuser["password"],
        EMAIL_URL=f"smtp://smtp:{SMTP_PORT}",
        **settings,
    )
    env = {
        "APP_IMAGE": image(option_set),
        "PROXY_IMAGE": image(option_set, target="nginx"),
        "TLS_MODE": "files",
        "TLS_CERTIFICATE_FILE": str(certificate),
        "TLS_CERTIFICATE_KEY_FILE": str(key),
        **sinks_env(),
        "COMPOSE_PROFILES": "sentry" if chosen(option_set, "use_sentry") else "",
        **(compose_env or {}),
    }
    files = ["compose.prod.yaml", SINKS_OVERRIDE, *overrides]
    for stack in stack_up(project, files, env):
        yield Site(stack, authority, directory, superuser)


@dataclass
class S3Site:
    """A site whose uploads go to a bucket of the S3 stand-in."""

    site: Site
    bucket: str

    @property
    def endpoint(self):
        """The stand-in's published port. It takes unsigned requests (moto's server checks
        no credentials unless told to), which keeps the test's own view of the bucket free
        of the app's code and credentials."""
        return f"http://127.0.0.1:{self.site.stack.env['S3_PORT']}"

    def listed_keys(self):
        """The bucket's keys, by S3's ListObjectsV2."""
        listing = client.request(f"{self.endpoint}/{self.bucket}?list-type=2")
        assert listing.status == 200, listing.text
        root = ElementTree.fromstring(listing.body)  # noqa: S314 (the test's own stand-in)
        return [element.text for element in root.iter() if element.tag.endswith("}Key")]


def public_read(bucket):
    """An S3 bucket policy: anyone may GET the bucket's objects."""
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{bucket}/*"}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}).encode()


# ---- what the sinks and the services printed ------------------------------------------------


def json_lines(log):
    """Each non-empty line of a log parsed as JSON, or the line itself where it is not an
    object in JSON."""
    parsed = []
    for line in filter(str.strip, log.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            record = line
        parsed.append(record if isinstance(record, dict) else line)
    return parsed


def messages_in_sink(log):
    """The messages aiosmtpd's debugging handler printed: each between two marker lines,
    after the SMTP options it was sent with, every line of it as Python's repr of its
    bytes (the handler does not decode them) and an X-Peer header it adds."""
    messages = []
    blocks = re.findall(r"^-+ MESSAGE FOLLOWS -+\n(.*?)^-+ END MESSAGE -+$", log, re.M | re.S)
    for block in blocks:
        lines = []
        for line in block.splitlines():
            if re.match(r"(mail|rcpt) options:", line):
                continue
            if re.fullmatch(r"b(['\"]).*\1", line):
                line = ast.literal_eval(line).decode()
            lines.append(line)
        text = "\n".join(lines).lstrip("\n")
        messages.append(email.message_from_string(text, policy=email.policy.default))
    return messages


def sentry_events(site):
    """The events (not sessions or transactions) in the envelopes the receiver printed."""
    events = []
    for record in json_lines(site.log("sentry")):
        if not isinstance(record, dict):
            continue
        assert "error" not in record, record  # an envelope the receiver could not read
        items = record["envelope"][1:]
        for header, payload in zip(items[::2], items[1::2], strict=False):
            if isinstance(header, dict) and header.get("type") == "event":
                events.append(payload)
    return events


def heartbeat_times(site, since):
    """When the worker logged the heartbeat task's line (Docker's time for each), from
    `since` on."""
    times = []
    for line in site.log("worker", since=since, timestamps=True).splitlines():
        stamp, _, text = line.partition(" ")
        records = json_lines(text)
        if records and isinstance(records[0], dict):
            record = records[0]
            if record.get("message") == "heartbeat" and record.get("logger") == f"{site.slug}.jobs":
                times.append(datetime.fromisoformat(stamp[:26] + "+00:00"))
    return times
