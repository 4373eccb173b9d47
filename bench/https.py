"""HTTPS through nginx against HTTP through nginx: the template's compose.prod.yaml stack
with the same images, the same web container and the same wrk settings, nginx first with
TLS_MODE=off (plain HTTP, wrk as the load balancer that says https), then recreated with
TLS_MODE=files and a certificate made for the run (wrk over TLS). Then new TLS
connections per second, full handshakes and resumed ones (bench/handshakes.py)."""

import json
import sys
from pathlib import Path

from bench.host import log, run
from bench.records import Handshakes, Https
from bench.serving import prod_stack, up, wait_until_serving, wrk
from harness import client, engine
from harness.tls import Authority, https_request, trusting

# nginx serves DOMAINS plus localhost; a name it does not serve has its handshake refused.
SITE_NAME = "localhost"
# Both protocols carry the same Host; over plain HTTP, what a load balancer ending TLS adds.
HTTP_HEADERS = {"Host": SITE_NAME, "X-Forwarded-Proto": "https"}
HTTPS_HEADERS = {"Host": SITE_NAME}
HANDSHAKE_CLIENTS = 2  # processes, as wrk's 2 threads
REPOSITORY = Path(__file__).resolve().parent.parent


def certificate_files(directory, resources):
    """A CA made for this run, and a certificate for SITE_NAME signed by it, as files."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = Authority.make(f"{resources.run_id} bench CA")
    certificate, key = authority.write(directory, [SITE_NAME])
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(authority.pem)
    return certificate, key, ca_file


def wait_until_serving_https(port, ca_file, deadline=60):
    """The published HTTPS port answers under SITE_NAME with the run's certificate
    (verified: chain and name), liveness and the home page alike."""
    context = trusting(ca_file)

    def health():
        try:
            return https_request(port, SITE_NAME, context, "/health/")[0] == 200
        except OSError:  # not listening yet, or nginx still starting
            return False

    client.poll(health, deadline, interval=0.2, what="200 from /health/ over HTTPS")
    status, _, body = https_request(port, SITE_NAME, context, "/")
    if status != 200 or b"users so far" not in body:
        raise RuntimeError(f"home page over HTTPS: {status} {body[:300]!r}")


def load(nginx, port, duration, headers, base):
    """wrk on /health/ and on /, after a warm-up, like the other serving runs."""
    wrk(nginx, port, "/", min(3, duration), headers, base)
    runs = {}
    for path in ("/health/", "/"):
        log(f"  wrk {base}:{port}{path} for {duration} s")
        runs[path] = wrk(nginx, port, path, duration, headers, base)
    return runs


def handshakes(nginx, seconds):
    """bench/handshakes.py in nginx's network namespace, on 127.0.0.1:443."""
    pid = engine.docker("inspect", "--format", "{{.State.Pid}}", nginx).stdout.strip()
    command = ["nsenter", f"--target={pid}", "--net", sys.executable, "-m", "bench.handshakes",
               "443", SITE_NAME, seconds, HANDSHAKE_CLIENTS]  # fmt: skip
    output = run(command, cwd=REPOSITORY, timeout=2 * seconds + 120).stdout
    figures = json.loads(output)
    return Handshakes(
        full=figures["full"],
        resumed=figures["resumed"],
        not_resumed=figures["not_resumed"],
        seconds=figures["seconds"],
        clients=figures["clients"],
        version=figures["version"],
    )


def measure_https(image, project, proxy_image, resources, duration, workdir):
    """The template's stack: HTTP through nginx, then HTTPS through the same nginx image
    in front of the same web container."""
    certificate, key, ca_file = certificate_files(Path(workdir) / "tls", resources)
    env, stack = prod_stack(
        "stack-https", image, project, proxy_image, resources,
        TLS_CERTIFICATE_FILE=str(certificate), TLS_CERTIFICATE_KEY_FILE=str(key),
    )  # fmt: skip
    log("HTTPS vs HTTP: compose.prod.yaml up, nginx with TLS_MODE=off")
    containers = up(project, env)
    wait_until_serving(f"http://127.0.0.1:{env['HTTP_PORT']}")
    log("HTTP through nginx (TLS_MODE=off)")
    http = load(containers["nginx"], 80, duration, HTTP_HEADERS, "http://127.0.0.1")

    log("HTTPS vs HTTP: nginx recreated with TLS_MODE=files, the same web")
    env["TLS_MODE"] = "files"
    https_containers = up(project, env)
    if https_containers["web"] != containers["web"]:
        raise RuntimeError("compose recreated web along with nginx: not the same app server")
    wait_until_serving_https(int(env["HTTPS_PORT"]), ca_file)
    log("HTTPS through nginx (TLS_MODE=files)")
    nginx = https_containers["nginx"]
    https = load(nginx, 443, duration, HTTPS_HEADERS, f"https://{SITE_NAME}")
    log(f"new TLS connections: {duration} s of full handshakes, {duration} s of resumed ones")
    result = Https(http, https, handshakes(nginx, duration))
    resources.drop(stack)
    return result
