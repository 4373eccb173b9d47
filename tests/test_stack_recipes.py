"""The justfile's recipes that start stacks, run as written on the engine: the dev loop
(`up` returns once the app answers; manage, shell, logs; CI's test job on Postgres; down)
and the production one (build, prod-up, prod-logs, prod-down)."""

import shutil
import uuid

import pytest

from harness import client, engine
from harness.stacks import BEHIND_LOAD_BALANCER, VIA_HTTPS, free_port, leftovers
from harness.template import TEST_IMAGES
from harness.workflow import checkout, lines_until, run_job, sh


@pytest.fixture(scope="module")
def fork(bake, docker_engine, tmp_path_factory):
    """A bake as a fork works in it, and what its stacks are called and where they listen,
    so nothing here meets another test's stack or images."""
    project = checkout(shutil.copytree(bake(), tmp_path_factory.mktemp("fork") / "checkout"))
    tag = uuid.uuid4().hex[:8]
    port, https_port = free_port(), free_port()
    env = {
        "COMPOSE_PROJECT_NAME": f"ddtest-{tag}",
        "CA_BUNDLE": str(engine.CA_BUNDLE),
        "DEV_IMAGE": f"django-docker-test/recipes-dev:{tag}",
        "APP_IMAGE": f"django-docker-test/recipes-runtime:{tag}",
        "PROXY_IMAGE": f"django-docker-test/recipes-nginx:{tag}",
        "DEV_PORT": str(port),
        "HTTP_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(port),
        "HTTPS_PORT": str(https_port),
        "CERTBOT_IMAGE": TEST_IMAGES["certbot"],
        **BEHIND_LOAD_BALANCER,
    }
    yield project, env, f"http://127.0.0.1:{port}"
    for compose_file in ("compose.yaml", "compose.prod.yaml"):
        engine.compose(project, compose_file, "down", "--volumes", "--timeout", "5", env=env)
    for image in ("DEV_IMAGE", "APP_IMAGE", "PROXY_IMAGE"):
        engine.docker("rmi", "--force", env[image], check=False)


def just(fork, recipe, stdin=None, timeout=900):
    project, env, _ = fork
    result = sh(project, f"just {recipe}", env=env, stdin=stdin, timeout=timeout)
    assert result.returncode == 0, f"just {recipe}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_up_returns_only_once_the_dev_app_answers(fork):
    just(fork, "up")
    # No polling: `up` itself waited for the app.
    home = client.request(fork[2] + "/", headers={"Host": "localhost"})
    assert home.status == 200 and "It works." in home.text


def test_manage_shell_and_logs_reach_the_dev_app(fork):
    assert "System check identified no issues" in just(fork, "manage check")
    assert just(fork, "shell", stdin="python -c 'import django; print(django.get_version())'\n")
    project, env, base_url = fork
    client.request(base_url + "/health/", headers={"Host": "localhost"})
    lines = lines_until(project, "just logs web", '"GET /health/', deadline=30, env=env)
    assert any('"GET /health/' in line for line in lines), lines


def test_ci_test_job_runs_the_suite_in_the_dev_image_on_postgres(fork):
    project, env, _ = fork
    run_job(project, "ci.yml", "test", env=env)
    # The job's last step stops the dev stack and drops its volumes.
    assert leftovers(env["COMPOSE_PROJECT_NAME"]) == {"container": [], "network": [], "volume": []}


def test_prod_recipes_build_start_show_and_stop_the_production_stack(fork):
    project, env, base_url = fork
    just(fork, "build")
    revision = engine.docker("inspect", "-f", "{{.Config.Labels}}", env["APP_IMAGE"]).stdout
    assert sh(project, "git rev-parse HEAD").stdout.strip() in revision
    just(fork, "prod-up")
    assert client.request(base_url + "/health/ready/", headers=VIA_HTTPS).status == 200
    lines = lines_until(project, "just prod-logs nginx", "/health/ready/", deadline=30, env=env)
    assert any("/health/ready/" in line for line in lines), lines
    just(fork, "prod-down")
    assert (
        engine.compose(project, "compose.prod.yaml", "ps", "--all", "--quiet", env=env).stdout == ""
    )
