"""Serving under load: each image alone next to one Postgres (direct), and the template's
compose.prod.yaml stack behind its nginx. wrk runs inside the target container's own
network namespace; memory is sampled meanwhile; then `docker stop` under load."""

import os
import secrets
import subprocess

from bench.host import WRK_CONNECTIONS, log, run
from bench.memory import Memory, PeakMemory
from bench.records import Serving, Wrk
from bench.stop import stop_under_load
from harness import client, engine
from harness.load import wrk_command, wrk_figures
from harness.stacks import BEHIND_LOAD_BALANCER, PUBLIC_HOST, VIA_HTTPS, free_port
from harness.template import OFFICIAL_IMAGES


def app_environment(password):
    """The same production settings and secrets for all three images, the host name the
    bake allows, and Postgres by its alias on the network, like compose's `db`."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": f"{PUBLIC_HOST},localhost,127.0.0.1",
        "DATABASE_URL": f"postgres://bench:{password}@db:5432/bench",
    }


def wait_until_serving(base_url, deadline=120):
    """Liveness and readiness answer, and the home page renders from the database."""
    for path in ("/health/", "/health/ready/"):
        client.poll(
            lambda path=path: (
                client.request(base_url + path, headers=VIA_HTTPS, timeout=2).status == 200
            ),
            deadline,
            interval=0.1,
            what=f"200 from {path}",
        )
    home = client.request(base_url + "/", headers=VIA_HTTPS)
    if home.status != 200 or "users so far" not in home.text:
        raise RuntimeError(f"home page at {base_url}: {home.status} {home.text[:300]!r}")


def wrk(container, port, path, duration, headers=VIA_HTTPS, base="http://127.0.0.1"):
    """wrk on `base`:`port` (127.0.0.1 unless named otherwise) inside `container`'s own
    network namespace.

    Not through the port published on the host: on loopback that is docker-proxy, the
    engine's userland proxy, which costs most of a core at a few thousand connections per
    second and dials the container anew for each one. Its TIME_WAIT sockets on the bridge
    then cap new connections at about 28k a minute, which throttles any server that closes
    its connections (sync gunicorn, runserver) and makes each run depend on the one before.
    In its own namespace, every image (and nginx) is measured as a load balancer reaches it.
    """
    pid = engine.docker("inspect", "--format", "{{.State.Pid}}", container).stdout.strip()
    url = f"{base}:{port}{path}"
    command = wrk_command(url, headers, WRK_CONNECTIONS, duration, timeout="2s")
    output = run(["nsenter", f"--target={pid}", "--net", *command], timeout=duration + 60).stdout
    figures = wrk_figures(output)
    return Wrk(
        rps=figures["rps"],
        p50=figures["p50_ms"],
        p99=figures["p99_ms"],
        requests=figures["requests"],
        error_kinds={**figures["socket_error_kinds"], "non_200": figures["non_200"]},
    )


def serving(load_container, port, memory, duration, stop_container, stop_port):
    """Warm up, wrk on liveness and on the home page while `memory` is sampled, then
    `docker stop` under load."""
    idle = memory.idle()
    wrk(load_container, port, "/", min(3, duration))  # warm-up: workers import, connect
    with PeakMemory(memory) as peak:
        log(f"  wrk /health/ for {duration} s")
        health = wrk(load_container, port, "/health/", duration)
        log(f"  wrk / for {duration} s")
        home = wrk(load_container, port, "/", duration)
    log("  docker stop under load")
    stop = stop_under_load(stop_container, stop_port)
    return Serving(health, home, idle, peak.peak, stop)


def start_database(resources, network, password):
    name = resources.container(resources.name("db"))
    engine.docker(
        "run",
        "--detach",
        f"--name={name}",
        f"--network={network}",
        "--network-alias=db",
        "--env=POSTGRES_USER=bench",
        f"--env=POSTGRES_PASSWORD={password}",
        "--env=POSTGRES_DB=bench",
        OFFICIAL_IMAGES["POSTGRES_IMAGE"],
    )
    # Over TCP: the entrypoint's initialisation server listens on its socket only.
    client.poll(
        lambda: (
            engine.docker(
                "exec",
                name,
                "pg_isready",
                "--host=127.0.0.1",
                "--username=bench",
                "--dbname=bench",
                check=False,
            ).returncode
            == 0
        ),
        120,
        interval=0.25,
        what="Postgres accepting connections",
    )


def measure_direct(variant, image, resources, network, app_env, duration):
    """The image alone on the network with Postgres, wrk at its port 8000."""
    name = resources.container(resources.name(f"{variant}-web"))
    with engine.running(image, app_env, f"--name={name}", f"--network={network}") as web:
        wait_until_serving(web.base_url)
        log(f"{variant}: load on its own port 8000")
        port = int(web.base_url.rsplit(":", 1)[1])
        result = serving(name, 8000, Memory(name), duration, name, port)
    resources.drop(name)
    return result


def compose(project, env, *args, check=True):
    """`docker compose -f compose.prod.yaml ARGS` in the baked project."""
    command = ["docker", "compose", "--file", "compose.prod.yaml", *args]
    if check:
        return run(command, cwd=project, env=env, timeout=600)
    return subprocess.run(command, cwd=project, env=env, capture_output=True, timeout=600)


def prod_stack(name, image, project, proxy_image, resources, **variables):
    """The environment of a compose.prod.yaml stack of prebuilt images on free loopback
    ports, as behind a load balancer that ends TLS (TLS_MODE=off, harness.stacks) unless
    `variables` say otherwise; registered for `down` when the run ends."""
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": resources.name(name),
        "APP_IMAGE": image,
        "PROXY_IMAGE": proxy_image,
        "HTTP_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        "HTTPS_PORT": str(free_port()),
        **BEHIND_LOAD_BALANCER,
        # wrk in nginx's own namespace is the load balancer too.
        "TRUSTED_PROXIES": f"127.0.0.1 {BEHIND_LOAD_BALANCER['TRUSTED_PROXIES']}",
        **variables,
    }
    down = ("down", "--volumes", "--remove-orphans", "--timeout", "10")
    key = resources.add(
        env["COMPOSE_PROJECT_NAME"], lambda: compose(project, env, *down, check=False)
    )
    return env, key


def up(project, env):
    """nginx and what it depends on (web, migrate, db), nothing pulled; not the acme
    service, idle unless TLS_MODE=acme. Compose recreates only what `env` changed."""
    compose(project, env, "up", "--detach", "--wait", "--no-build", "--pull", "never", "nginx")
    return {service: compose(project, env, "ps", "--quiet", service).stdout.strip()
            for service in ("web", "nginx")}  # fmt: skip


def measure_stack(variant, image, project, proxy_image, resources, duration):
    """compose.prod.yaml with `image` as web, behind the template's nginx (TLS_MODE=off,
    wrk as the load balancer that says https)."""
    env, key = prod_stack(f"stack-{variant}", image, project, proxy_image, resources)
    log(f"{variant} stack: compose.prod.yaml up (prebuilt images, nothing pulled)")
    containers = up(project, env)
    wait_until_serving(f"http://127.0.0.1:{env['HTTP_PORT']}")
    log(f"{variant} stack: load through nginx, then docker stop web")
    web = containers["web"]
    result = serving(containers["nginx"], 80, Memory(web), duration, web, int(env["HTTP_PORT"]))
    resources.drop(key)
    return result
