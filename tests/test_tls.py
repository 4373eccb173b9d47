"""HTTPS on its own: the prod stack gets its certificate from an ACME CA (Pebble, which
validates the HTTP-01 challenge for real by fetching it from nginx), serves it verified
under the site's name, renews it under load without a restart or a failed request, recovers
from an expired one, and says in one line what is wrong when it cannot. Then the other TLS
modes (your own files; behind a load balancer) and what a TLS scanner makes of the edge.
Pebble's configuration, and what a client sees of the stack: harness/pebble.py."""

import json
import shutil
import ssl
import subprocess
import time
import uuid

import pytest
from cryptography import x509

from harness import client, engine
from harness.browser import chromium_trusting, logged_in_to_admin
from harness.figures import ARTIFACTS, record_figures
from harness.load import Load
from harness.pebble import (
    ISSUANCE_DEADLINE,
    PEBBLE_OVERRIDE,
    SHORT_LIVED_SECONDS,
    AcmeStack,
    acme_env,
    issued,
    newer_than,
    pebble_directory,
    renew_now,
    served_everywhere,
)
from harness.stacks import PUBLIC_HOST, free_port, stack_up
from harness.template import admin_path
from harness.tls import Authority, handshake, served_certificate, trusting, unverified

# What testssl.sh rates HIGH in a certificate Pebble issued, not in the edge: Pebble's
# certificates name no CRL or OCSP responder (Let's Encrypt's name a CRL).
OF_THE_TEST_CA = {"cert_revocation"}


@pytest.fixture(scope="module")
def acme(bake, image, tmp_path_factory):
    """compose.prod.yaml in TLS_MODE=acme from empty volumes, Pebble as its CA; the time
    from `up` to a Pebble certificate being served, measured."""
    pebble_dir = pebble_directory(tmp_path_factory.mktemp("pebble"))
    env = acme_env(image, pebble_dir)
    started = time.monotonic()
    for stack in stack_up(bake(), ["compose.prod.yaml", PEBBLE_OVERRIDE], env):
        acme_stack = AcmeStack(stack)
        issued(acme_stack, tmp_path_factory.mktemp("roots"))
        record_figures("tls", "up_to_certificate", seconds=round(time.monotonic() - started, 1))
        yield acme_stack


def test_a_certificate_from_the_acme_ca_is_served_for_the_domain(acme, tmp_path):
    certificate = acme.certificate(acme.context(tmp_path))  # verified: name, dates, chain
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == [PUBLIC_HOST]
    assert "Pebble" in certificate.issuer.rfc4514_string()


def test_https_answers_with_http2_hsts_and_a_request_id(acme, tmp_path):
    context = acme.context(tmp_path)
    status, headers, _ = acme.get("/", context)
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert len(headers["X-Request-ID"]) == 32
    context.set_alpn_protocols(["h2", "http/1.1"])
    _, tls = handshake(acme.stack.https_port, PUBLIC_HOST, context)
    with tls:
        assert tls.selected_alpn_protocol() == "h2"


def test_the_request_id_in_the_answer_is_in_the_access_log(acme, tmp_path):
    _, headers, _ = acme.get("/health/", acme.context(tmp_path))
    logged = f"request_id={headers['X-Request-ID']}"
    client.poll(lambda: logged in acme.stack.compose("logs", "nginx").stdout, 10,
                what="the request id in nginx's access log")  # fmt: skip


def test_plain_http_redirects_to_https_even_when_the_client_claims_https(acme):
    answer = acme.stack.get("/", headers={"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"})
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{PUBLIC_HOST}/"


def test_port_80_serves_acme_challenges_and_probes_without_redirecting(acme):
    token = uuid.uuid4().hex
    acme.stack.compose(
        "exec", "-T", "acme", "sh", "-c",
        f"mkdir -p /var/www/acme/.well-known/acme-challenge && "
        f"echo {token} > /var/www/acme/.well-known/acme-challenge/{token}",
    )  # fmt: skip
    answer = acme.stack.get(f"/.well-known/acme-challenge/{token}", headers={"Host": PUBLIC_HOST})
    assert (answer.status, answer.text.strip()) == (200, token)
    assert acme.stack.get("/nginx-health", headers={"Host": "localhost"}).status == 200


def test_a_name_not_served_here_gets_no_certificate(acme, tmp_path):
    for name in ("other.example.org", None):
        with pytest.raises(ssl.SSLError):
            handshake(acme.stack.https_port, name, unverified())


def test_renewal_under_load_serves_a_new_certificate_without_restart_or_failure(acme, tmp_path):
    context = acme.context(tmp_path)
    before, nginx = acme.certificate(context), acme.nginx_started()

    # Each request a new connection, so handshakes happen across the switch.
    def send():
        return acme.get("/health/", context)[0]

    with Load(None, None, clients=4, max_seconds=120, send=send) as load:
        load.wait_for(20)
        renew_now(acme.stack)
        after = client.poll(lambda: served_everywhere(acme, context, newer_than(before)), 30,
                            interval=0.5, what="the renewed certificate served")  # fmt: skip
        load.wait_for(20)
    summary = load.summary()
    record_figures("tls", "renewal_under_load", **summary)
    assert after.not_valid_after_utc >= before.not_valid_after_utc
    assert acme.nginx_started() == nginx
    assert summary["failed"] == 0, (summary, load.failures()[:3])


def test_an_expired_certificate_is_renewed_and_served(acme, tmp_path):
    """The case that strands sites whose port 80 sends the CA to a broken 443: the stack
    serves an expired certificate (here: Pebble's short-lived one, left to expire while the
    acme service was stopped), and renewal over port 80 still works."""
    context = acme.context(tmp_path)
    acme.stack.env["ACME_PROFILE"] = "shortlived"
    acme.stack.compose("up", "--detach", "--no-deps", "acme", check=True)
    renew_now(acme.stack)

    def short_lived(certificate):
        return certificate.not_valid_after_utc.timestamp() < time.time() + SHORT_LIVED_SECONDS + 5

    short = client.poll(lambda: served_everywhere(acme, context, short_lived), 30, interval=0.5,
                        what="the short-lived certificate served")  # fmt: skip
    acme.stack.compose("stop", "acme", check=True)
    client.poll(
        lambda: time.time() > short.not_valid_after_utc.timestamp() + 1, SHORT_LIVED_SECONDS + 10,
        interval=0.5, what="the certificate expired",
    )  # fmt: skip
    with pytest.raises(ssl.SSLCertVerificationError):
        acme.certificate(context)
    acme.stack.env["ACME_PROFILE"] = "default"
    acme.stack.compose("up", "--detach", "--no-deps", "acme", check=True)
    # Verified as it is read: in date again.
    client.poll(lambda: served_everywhere(acme, context, newer_than(short)), ISSUANCE_DEADLINE,
                interval=1, what="a new certificate after the expired one")  # fmt: skip


def test_the_edge_passes_a_tls_scanner_with_no_high_or_critical_finding(acme, tmp_path):
    report, root = tmp_path / "testssl.json", tmp_path / "pebble-root.pem"
    root.write_bytes(acme.pebble_root())
    scan = subprocess.run(
        # Debian's testssl.sh; offline: no DNS, the site's name only as SNI and Host.
        ["testssl", "--quiet", "--nodns", "none", "--color", "0", "--warnings", "off",
         "--openssl-timeout", "5", "--jsonfile", str(report), "--ip", "127.0.0.1",
         "--add-ca", str(root),
         f"https://{PUBLIC_HOST}:{acme.stack.https_port}/"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.exists(), scan.stdout[-2000:] + scan.stderr[-2000:]
    findings = json.loads(report.read_text())
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(report, ARTIFACTS / "testssl.json")
    severities = {}
    for finding in findings:
        severities[finding["severity"]] = severities.get(finding["severity"], 0) + 1
    record_figures("tls", "testssl_severities", **severities)
    serious = [
        finding
        for finding in findings
        if finding["severity"] in ("HIGH", "CRITICAL") and finding["id"] not in OF_THE_TEST_CA
    ]
    assert not serious, serious


def test_admin_login_works_in_a_real_browser_over_https(acme, tmp_path):
    password = uuid.uuid4().hex
    acme.stack.compose(
        "exec", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={password}", "web",
        "python", "manage.py", "createsuperuser", "--noinput", "--username", "admin",
        "--email", "admin@example.com", check=True,
    )  # fmt: skip
    site = f"https://{PUBLIC_HOST}:{acme.stack.https_port}"
    admin = admin_path(acme.stack.project)
    # Chromium trusts Pebble's root through an NSS database of its own (a fresh HOME).
    with chromium_trusting(acme.pebble_root(), tmp_path / "home", PUBLIC_HOST) as browser:
        page = logged_in_to_admin(browser, site, admin, "admin", password)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "admin-over-https.png")


def test_admin_login_is_rate_limited_per_client(acme, tmp_path):
    context = acme.context(tmp_path)
    login = admin_path(acme.stack.project) + "login/"
    statuses = [acme.get(login, context)[0] for _ in range(16)]
    assert statuses[0] == 200
    assert 429 in statuses, statuses


# ---- when it cannot: one clear line, no hammering -------------------------------------------


@pytest.fixture
def edge_only(bake, image, tmp_path):
    """nginx and the acme service alone (no app), in a project of their own; taken down with
    its volumes after."""
    (tmp_path / "pebble").mkdir()
    pebble_dir = pebble_directory(tmp_path / "pebble")
    started = []

    def up(**extra):
        env = acme_env(image, pebble_dir, COMPOSE_PROJECT_NAME=f"ddtls-{uuid.uuid4().hex[:8]}",
                       HTTP_ADDRESS="127.0.0.1", HTTP_PORT=str(free_port()),
                       HTTPS_PORT=str(free_port()), ACME_RETRY_SECONDS="2", **extra)  # fmt: skip
        project = bake()
        started.append((project, env))
        files = ["compose.prod.yaml", PEBBLE_OVERRIDE]
        engine.compose(project, files, "up", "--detach", "--no-deps", "--no-build", "--pull",
                       "never", "nginx", "acme", "pebble", env=env, check=True)  # fmt: skip
        compose = lambda *args: engine.compose(project, files, *args, env=env, check=True).stdout  # noqa: E731
        return compose, int(env["HTTPS_PORT"])

    yield up
    for project, env in started:
        engine.compose(project, ["compose.prod.yaml", PEBBLE_OVERRIDE], "down", "--volumes",
                       "--timeout", "5", env=env)  # fmt: skip


def acme_lines(compose, text):
    return [line for line in compose("logs", "acme").splitlines() if text in line]


def test_an_unreachable_ca_leaves_a_temporary_certificate_and_retries_with_back_off(edge_only):
    compose, https_port = edge_only(ACME_DIRECTORY="https://pebble:14999/dir")  # nobody there
    temporary = client.poll(lambda: served_certificate(https_port, PUBLIC_HOST, unverified()), 30,
                            what="a temporary certificate served")  # fmt: skip
    assert temporary.subject == temporary.issuer  # self-signed
    assert PUBLIC_HOST in temporary.subject.rfc4514_string()
    client.poll(lambda: len(acme_lines(compose, "next try in")) >= 3, 60,
                what="three failed attempts")  # fmt: skip
    waits = [int(line.rsplit(" ", 1)[1].rstrip("s")) for line in acme_lines(compose, "next try in")]
    assert waits[:3] == [2, 4, 8]
    assert "https://pebble:14999/dir" in acme_lines(compose, "next try in")[0]
    state = compose("ps", "--format", "{{.Service}} {{.State}}", "acme")
    assert state.split() == ["acme", "running"]


def test_a_name_that_does_not_reach_this_nginx_is_named_and_the_ca_is_not_asked(edge_only):
    compose, _ = edge_only(DOMAINS=f"{PUBLIC_HOST},unreachable.invalid")
    client.poll(lambda: acme_lines(compose, "does not reach this nginx"), 60,
                what="the unreachable name reported")  # fmt: skip
    assert "unreachable.invalid" in acme_lines(compose, "does not reach this nginx")[0]
    assert "new-order" not in compose("logs", "pebble").lower()


def test_files_mode_serves_your_certificate_and_names_a_missing_key(image, tmp_path):
    authority = Authority.make("Your company's CA")
    certificate, key = authority.write(tmp_path, [PUBLIC_HOST])
    (tmp_path / "ca.pem").write_bytes(authority.pem)
    certificate.chmod(0o644)
    key.chmod(0o644)
    port = free_port()
    common = ["docker", "run", "--rm", "--detach", "--read-only", "--tmpfs", "/etc/nginx/conf.d",
              "--tmpfs", "/var/cache/nginx", "--tmpfs", "/var/run", "-e", "TLS_MODE=files",
              "-e", f"DOMAINS={PUBLIC_HOST}", "-v", f"{tmp_path}:/tls:ro",
              "-e", "TLS_CERTIFICATE=/tls/certificate.pem"]  # fmt: skip
    nginx = image("default", target="nginx")
    container = subprocess.run(
        [*common, "-e", "TLS_CERTIFICATE_KEY=/tls/key.pem", "-p", f"127.0.0.1:{port}:443",
         "--add-host", "web:127.0.0.1", nginx],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    try:
        context = trusting(tmp_path / "ca.pem")
        served = client.poll(lambda: served_certificate(port, PUBLIC_HOST, context), 20,
                             what="your certificate served")  # fmt: skip
        yours = x509.load_pem_x509_certificate(certificate.read_bytes())
        assert served.serial_number == yours.serial_number
    finally:
        engine.docker("rm", "--force", container, check=False)
    missing = subprocess.run(
        [*common[:3], *common[4:], "-e", "TLS_CERTIFICATE_KEY=/tls/missing.pem", nginx],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines() == [
        "nginx: TLS_MODE=files: cannot read TLS_CERTIFICATE_KEY=/tls/missing.pem"
    ]


def test_behind_a_load_balancer_its_scheme_is_believed_only_from_its_addresses(acme):
    """TLS_MODE=off: a request claiming https is redirected by Django unless it came from one
    of TRUSTED_PROXIES (the tests reach nginx from their network's gateway)."""
    claims_https = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
    for trusted, status in [("203.0.113.7", 301), ("172.16.0.0/12 192.168.0.0/16", 200)]:
        acme.stack.env.update(TLS_MODE="off", TRUSTED_PROXIES=trusted)
        acme.stack.compose("up", "--detach", "--wait", "--no-deps", "nginx", check=True)
        assert acme.stack.get("/", headers=claims_https).status == status, trusted
