"""Pebble (Let's Encrypt's test ACME server) as the prod stack's CA, for the tls stage:
its configuration for a run, the stack's environment in TLS_MODE=acme, and what a client
sees of the certificate nginx serves (compose.pebble.yaml adds Pebble to the stack)."""

import json
import ssl
import urllib.request
import uuid

from harness import client
from harness.stacks import PUBLIC_HOST, free_port
from harness.template import TEMPLATE, TEST_IMAGES
from harness.tls import Authority, https_request, served_certificate, trusting

PEBBLE_OVERRIDE = str(TEMPLATE / "harness/compose.pebble.yaml")
# A Pebble profile whose certificates expire within the test.
SHORT_LIVED_SECONDS = 20
# The acme service's command for "renew now" (README.md, "HTTPS").
RENEW_NOW = ["exec", "-T", "acme", "sh", "/acme/keep-certificate.sh", "once", "--force-renewal"]
ISSUANCE_DEADLINE = 120
# nginx's workers each cache the certificate and look at the file again every 10 s: a new
# one is served everywhere once this many handshakes in a row present it.
HANDSHAKES_IN_A_ROW = 20


def pebble_directory(directory):
    """Pebble's config, and the certificate its own HTTPS API answers with (from a CA made
    for this run, which the acme service is told to trust)."""
    authority = Authority.make("Pebble API test CA")
    authority.write(directory, ["pebble"])
    (directory / "api-ca.pem").write_bytes(authority.pem)
    config = {
        "pebble": {
            "listenAddress": "0.0.0.0:14000",
            "managementListenAddress": "0.0.0.0:15000",
            "certificate": "/pebble/certificate.pem",
            "privateKey": "/pebble/key.pem",
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "profiles": {
                "default": {"description": "90 days", "validityPeriod": 7776000},
                "shortlived": {
                    "description": "expires in the test",
                    "validityPeriod": SHORT_LIVED_SECONDS,
                },
            },  # fmt: skip
        }
    }
    (directory / "config.json").write_text(json.dumps(config))
    directory.chmod(0o755)
    return directory


def acme_env(image, pebble_dir, **extra):
    return {
        "APP_IMAGE": image("default"),
        "PROXY_IMAGE": image("default", target="nginx"),
        "TLS_MODE": "acme",
        "ACME_DIRECTORY": "https://pebble:14000/dir",
        "PEBBLE_IMAGE": TEST_IMAGES["pebble"],
        "CERTBOT_IMAGE": TEST_IMAGES["certbot"],  # for edge_only, which is no stack_up
        "PEBBLE_DIR": str(pebble_dir),
        "PEBBLE_MANAGEMENT_PORT": str(free_port()),
        "DOMAIN_ALIAS": PUBLIC_HOST,
        # Named, as Pebble has no default among several profiles.
        "ACME_PROFILE": "default",
        **extra,
    }


class AcmeStack:
    """The prod stack with Pebble as its CA, and what a client sees of it."""

    def __init__(self, stack):
        self.stack = stack

    def pebble_root(self):
        """Pebble makes a new root at each start: fetch it from its management API."""
        url = f"https://127.0.0.1:{self.stack.env['PEBBLE_MANAGEMENT_PORT']}/roots/0"
        context = ssl.create_default_context(cafile=self.stack.env["PEBBLE_DIR"] + "/api-ca.pem")
        context.check_hostname = False  # its certificate names "pebble"; the CA is checked
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:
            return answer.read()

    def context(self, tmp_path):
        root = tmp_path / f"pebble-root-{uuid.uuid4().hex[:6]}.pem"
        root.write_bytes(self.pebble_root())
        return trusting(root)

    def certificate(self, context):
        return served_certificate(self.stack.https_port, PUBLIC_HOST, context)

    def get(self, path, context, **kwargs):
        return https_request(self.stack.https_port, PUBLIC_HOST, context, path, **kwargs)

    def nginx_started(self):
        return self.stack.inspect("nginx", "{{.State.StartedAt}} {{.RestartCount}}")


def served_everywhere(stack, context, wanted=lambda certificate: True):
    """The certificate every nginx worker presents, once `wanted` (verified with `context`)."""
    seen = set()
    for _ in range(HANDSHAKES_IN_A_ROW):
        try:
            certificate = stack.certificate(context)
        except (ssl.SSLError, OSError):
            return None
        if not wanted(certificate):
            return None
        seen.add(certificate)
    return seen.pop() if len(seen) == 1 else None


def renew_now(stack):
    """The README's renew-now command, again while the service's own certbot holds the lock
    (certbot refuses a second instance, saying so)."""

    def renewed():
        result = stack.compose(*RENEW_NOW, check=False)
        assert "already running" in result.stderr or result.returncode == 0, result.stderr
        return result.returncode == 0

    client.poll(renewed, 60, interval=1, what="renew-now")


def newer_than(old):
    return lambda certificate: certificate.serial_number != old.serial_number


def issued(stack, tmp_path):
    """The certificate nginx serves, once it is one Pebble issued (verified with its root)."""

    def verified():
        return served_everywhere(stack, stack.context(tmp_path))

    try:
        return client.poll(verified, ISSUANCE_DEADLINE, interval=1, what="a Pebble certificate")
    except AssertionError as missing:
        logs = stack.stack.compose("logs", "--tail", "40", "acme", "pebble", "nginx").stdout
        raise AssertionError(f"{missing}; what acme, pebble and nginx said:\n{logs}") from None
