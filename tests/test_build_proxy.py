"""Build stage, behind a TLS-intercepting proxy: the test runs its own (mitmproxy, with a CA
it generates), so what it proves does not depend on the network the machine sits on."""

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import client, engine, scan
from harness.engine import docker
from harness.stacks import free_port

# Installed beside this Python by requirements-test.txt.
MITMDUMP = Path(sys.executable).with_name("mitmdump")
BUILD_TIMEOUT = 300  # seconds: a build that hangs fails the test instead of the run
# What pip, the builds' first download, prints when it does not trust the proxy.
UNTRUSTED = "CERTIFICATE_VERIFY_FAILED"
NO_CA_BUNDLE = ""  # what a user who sets no CA_BUNDLE gets: compose passes /dev/null


@dataclass
class Proxy:
    url: str
    ca: Path
    log: Path

    def answered_hosts(self):
        """Hosts of the requests the proxy decrypted and answered with 200 OK."""
        flows = re.findall(r"GET https://([^/\s]+)/\S*.*\n\s*<< (?:HTTP/\S+ )?200 ", self.text())
        return set(flows)

    def text(self):
        return self.log.read_text()


def accepts_connections(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@pytest.fixture
def proxy(tmp_path):
    """mitmdump on loopback: a fresh CA in its confdir, trusting the host's bundle upstream
    (which may itself be intercepted); its log unbuffered, so a test reads it as it runs."""
    port = free_port()
    log = tmp_path / "mitmdump.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [MITMDUMP, "--listen-host=127.0.0.1", f"--listen-port={port}",
             "--set", f"confdir={tmp_path}",
             "--set", f"ssl_verify_upstream_trusted_ca={engine.CA_BUNDLE}"],
            stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        client.poll(lambda: accepts_connections(port), 20, what="mitmdump accepting connections")
        yield Proxy(f"http://127.0.0.1:{port}", tmp_path / "mitmproxy-ca-cert.pem", log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Build:
    result: subprocess.CompletedProcess
    images: set

    @property
    def output(self):
        return self.result.stdout + self.result.stderr


@contextmanager
def built_through(proxy, project, compose_file, ca_bundle, tmp_path):
    """`docker compose build` with the build containers on the host's network, where the
    proxy listens on loopback (no private-range address involved), and the proxy in the
    environment pip and uv read. Its images are removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    env = {
        "CA_BUNDLE": str(ca_bundle),
        **{name: f"django-docker-test/proxy-{name.lower()}:{tag}"
           for name in ("APP_IMAGE", "PROXY_IMAGE", "DEV_IMAGE")},
    }  # fmt: skip
    config = json.loads(
        engine.compose(project, compose_file, "config", "--format=json", env=env, check=True).stdout
    )
    built = {name: service for name, service in config["services"].items() if "build" in service}
    through_proxy = {"network": "host", "args": {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url}}
    override = tmp_path / "proxy.override.yaml"  # JSON is YAML
    override.write_text(
        json.dumps({"services": {name: {"build": through_proxy} for name in built}})
    )
    images = {service["image"] for service in built.values()}
    build = ["-f", str(override), "build"]
    # One service with --no-cache, so every download happens now; then the others on its
    # layers (together, compose would build the shared stages once per service).
    first, *others = built
    try:
        result = engine.compose(
            project, compose_file, *build, "--no-cache", first, env=env, timeout=BUILD_TIMEOUT
        )
        if result.returncode == 0 and others:
            engine.compose(
                project, compose_file, *build, *others, env=env, timeout=BUILD_TIMEOUT, check=True
            )
        yield Build(result, images)
    finally:
        docker("rmi", "--force", *images, check=False)


def proxy_ca_in_layers(image, ca_pem, tmp_path):
    """Files in the image's layers holding the proxy's CA, as PEM (however wrapped) or DER."""
    (certificate,) = scan.certificates(ca_pem)
    files = scan.layer_files(image, tmp_path)
    return scan.findings(files, {}, {"the proxy's CA": certificate}, set())


def test_build_through_the_proxy_fails_without_its_ca(bake, docker_engine, proxy, tmp_path):
    with built_through(proxy, bake(), "compose.prod.yaml", NO_CA_BUNDLE, tmp_path) as build:
        assert build.result.returncode != 0
        assert UNTRUSTED in build.output, build.output[-3000:]
        assert "does not trust the proxy's certificate" in proxy.text()


@pytest.mark.parametrize("compose_file", ["compose.yaml", "compose.prod.yaml"])
def test_compose_builds_its_images_behind_a_tls_proxy(
    bake, docker_engine, proxy, tmp_path, compose_file
):
    """`CA_BUNDLE=proxy-ca.pem docker compose build`, as a user behind a corporate proxy runs
    it: the downloads go through the proxy, and its CA stays out of every image."""
    with built_through(proxy, bake(), compose_file, proxy.ca, tmp_path) as build:
        assert build.result.returncode == 0, build.output[-3000:]
        # The index and the packages: --no-cache leaves pip and uv no cached download here.
        hosts = proxy.answered_hosts()
        assert {"pypi.org", "files.pythonhosted.org"} <= hosts, proxy.text()[-3000:]
        assert "does not trust the proxy's certificate" not in proxy.text()
        for image in build.images:
            assert proxy_ca_in_layers(image, proxy.ca.read_bytes(), tmp_path) == [], image
