"""Docker Swarm (deploy/swarm/stack.yaml): the prod images on a one-node swarm, with
secrets from the swarm and migrations as a job; rolled to a new version under load without
a failed request, and rolled back from a version that never turns healthy."""

import json
import re
import subprocess
import uuid

import pytest
import yaml

from harness import client, engine
from harness.figures import record_figures
from harness.stacks import BEHIND_LOAD_BALANCER, free_port
from harness.swarm import UPDATE_TIMEOUT, SwarmStack, remove_stack, under_load
from harness.template import DEFAULT_SLUG, OPTION_SETS, TEMPLATE, TEST_IMAGES, chosen

STACK_FILE = "deploy/swarm/stack.yaml"
S3_FILE = "deploy/swarm/s3.yaml"
SECRETS = {
    f"{DEFAULT_SLUG}_django_secret_key": f"swarm-test-secret-key-{uuid.uuid4().hex * 2}",
    # With the newline `echo pw | docker secret create` leaves, which Postgres drops too.
    f"{DEFAULT_SLUG}_postgres_password": f"swarm-test-password-{uuid.uuid4().hex}\n",
}
# Every wait is bounded; a deploy waits for health checks (5 s apart, 30 s start period).
DEPLOY_DEADLINE = 180


@pytest.fixture(scope="module")
def swarm(docker_engine):
    """This engine as a one-node swarm on loopback, left again at the end (with every
    service, secret and config in it). A swarm the engine is already in may be someone's
    real one: the stage refuses it and never leaves it."""
    state = engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    if state != "inactive":
        pytest.fail(
            f"this engine is already in a swarm (state: {state}); the scale stage makes and "
            "leaves its own. If it is one an interrupted run left: docker swarm leave --force"
        )
    engine.docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        engine.docker("swarm", "leave", "--force", check=False)


@pytest.fixture(scope="module")
def versions(image):
    """Tags of the web image: v1 and v2 (the same build, as a rebuild without changes
    would be) and v3, which starts but never turns healthy: it listens on the wrong port."""
    built = image("default")
    prefix = f"django-docker-swarm/web-{uuid.uuid4().hex[:8]}"
    tags = {version: f"{prefix}:{version}" for version in ("v1", "v2", "v3")}
    engine.docker("tag", built, tags["v1"])
    engine.docker("tag", built, tags["v2"])
    broken = f"FROM {tags['v1']}\nENV GUNICORN_BIND=0.0.0.0:8001\n"
    subprocess.run(
        ["docker", "build", "--quiet", "--tag", tags["v3"], "-"],
        input=broken, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    yield tags
    engine.docker("rmi", *tags.values(), check=False)


@pytest.fixture(scope="module")
def stack(swarm, bake, image, versions, tmp_path_factory):
    """deploy/swarm/stack.yaml deployed with v1 and healthy through nginx; removed at the
    end, volumes included."""
    secrets_dir = tmp_path_factory.mktemp("swarm-secrets")
    for name, value in SECRETS.items():
        (secrets_dir / name).write_text(value)
        engine.docker("secret", "create", name, str(secrets_dir / name))
    port = free_port()
    env = {
        "APP_IMAGE": versions["v1"],
        "PROXY_IMAGE": image("default", target="nginx"),
        "HTTP_PORT": str(port),
        # This host is the load balancer: its X-Forwarded-Proto is believed.
        "TRUSTED_PROXIES": BEHIND_LOAD_BALANCER["TRUSTED_PROXIES"],
    }
    stack = SwarmStack(f"ddswarm-{uuid.uuid4().hex[:8]}", f"http://127.0.0.1:{port}",
                       [bake() / STACK_FILE], env)  # fmt: skip
    try:
        stack.deploy()
        client.poll(
            lambda: stack.get("/").status == 200, DEPLOY_DEADLINE, interval=1,
            what="home page 200 through nginx after `docker stack deploy`",
        )  # fmt: skip
        yield stack
    finally:
        remove_stack(stack.name)


def test_migrations_ran_as_a_job_and_web_serves_the_migrated_database(stack):
    def job_status():
        listing = engine.docker("service", "ls", "--filter", f"name={stack.service('migrate')}",
                                "--format", "{{.Mode}}: {{.Replicas}}")  # fmt: skip
        return listing.stdout.strip()

    # Web may answer while the job's process is still exiting after its last migration.
    client.poll(lambda: job_status() == "replicated job: 0/1 (1/1 completed)", 120,
                what="migrate job completed")  # fmt: skip
    # The count comes from auth_user, a table only the migrations make.
    home = stack.get("/")
    assert home.status == 200
    assert "0 users so far" in home.text


def test_web_started_only_after_the_last_migration_was_applied(stack):
    migrated = max(stack.log_times("migrate", "Applying "))
    started = stack.log_times("web", "Starting gunicorn")
    assert len(started) >= 2
    assert min(started) > migrated


def test_the_backup_service_takes_a_backup_once_the_database_answers(stack):
    def backups():
        label = f"label=com.docker.swarm.service.name={stack.service('backup')}"
        containers = engine.docker("ps", "--quiet", "--filter", label).stdout.split()
        if not containers:
            return None
        listing = ["exec", containers[0], "sh", "/backup/backup.sh", "list"]
        return engine.docker(*listing, check=False).stdout.split()

    # One backup at start, the next a day later (BACKUP_INTERVAL_SECONDS).
    names = client.poll(backups, 60, interval=1, what="a backup listed by the backup task")
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", name) for name in names), names


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_stack_file_is_valid_for_docker_stack_deploy(bake, docker_engine, option_set):
    """Redis always (the cache every replica shares); with Celery a worker and exactly one
    beat. nginx serves uploads from the media volume web writes, read-only."""
    project = bake(**OPTION_SETS[option_set])
    stack_file = project / STACK_FILE
    result = engine.docker("stack", "config", "--compose-file", str(stack_file))
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    expected = {"migrate", "web", "nginx", "db", "redis", "backup"}
    if chosen(option_set, "use_celery"):
        expected |= {"worker", "beat"}
        assert services["beat"]["deploy"]["replicas"] == 1
    assert set(services) == expected
    for name, service in services.items():
        if service["image"] == services["web"]["image"]:
            assert service["environment"]["CACHE_URL"].startswith("redis://redis:"), name

    def media(service):
        return [(m["target"], m.get("read_only", False)) for m in service.get("volumes", [])
                if m.get("source") == "media"]  # fmt: skip

    assert [read_only for _, read_only in media(services["web"])] == [False]
    (nginx_media,) = media(services["nginx"])
    site = (project / "docker/nginx/app.conf").read_text()
    assert re.search(r"location \^~ /media/ \{\n\s*alias (\S+)/;", site)[1] == nginx_media[0]
    assert nginx_media[1] is True
    # The backup script, from this project's file (relative to the stack file's directory).
    (script,) = services["backup"]["configs"]
    assert script["target"] == "/backup/backup.sh"
    assert config["configs"][script["source"]]["file"] == str(project / "docker/backup/backup.sh")
    assert media(services["backup"]) == [("/media", False)]


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_s3_file_gives_every_app_service_the_bucket_and_its_keys_as_secrets(
    bake, docker_engine, option_set
):
    """Uploads on a multi-node swarm: s3.yaml on top of the stack. The settings refuse a
    bucket without its keys, so every service running the app image gets both; the keys
    come from swarm secrets, never the environment."""
    project = bake(**OPTION_SETS[option_set])
    files = [arg for name in (STACK_FILE, S3_FILE) for arg in ("--compose-file", project / name)]
    shell = {"AWS_STORAGE_BUCKET_NAME": "uploads", "AWS_S3_ENDPOINT_URL": "http://s3:9000"}
    result = engine.docker("stack", "config", *map(str, files), env=shell)
    services = yaml.safe_load(result.stdout)["services"]
    for name, service in services.items():
        env = service.get("environment", {})
        if service["image"] != services["web"]["image"]:
            assert not [variable for variable in env if variable.startswith("AWS_")], name
            continue
        assert env["AWS_STORAGE_BUCKET_NAME"] == "uploads", name
        assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:9000", name
        mounted = {f"/run/secrets/{secret.get('target', secret['source'])}"
                   for secret in service["secrets"]}  # fmt: skip
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert key not in env, name
            assert env[f"{key}_FILE"] in mounted, name
    # Without a bucket the file refuses to deploy rather than deploying local uploads.
    no_bucket = {"AWS_S3_ENDPOINT_URL": shell["AWS_S3_ENDPOINT_URL"]}
    missing = engine.docker("stack", "config", *map(str, files), check=False, env=no_bucket)
    assert missing.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in missing.stderr


def test_every_option_in_the_stack_file_is_applied(stack):
    assert "Ignoring unsupported options" not in stack.deploy_output
    spec = json.loads(stack.inspect("web", "{{json .Spec.TaskTemplate.ContainerSpec}}"))
    assert (spec["ReadOnly"], spec["Init"], spec["CapabilityDrop"]) == (True, True, ["ALL"])
    assert {"Type": "tmpfs", "Target": "/tmp"} in spec["Mounts"]  # noqa: S108 (in the container)


def test_secrets_come_from_the_swarm_not_the_environment(stack):
    for service in ("web", "migrate", "db", "backup"):
        spec = json.loads(stack.inspect(service, "{{json .Spec.TaskTemplate.ContainerSpec}}"))
        environment = "\n".join(spec.get("Env", []))
        for value in SECRETS.values():
            assert value.strip() not in environment
        names = {secret["SecretName"] for secret in spec["Secrets"]}
        assert f"{DEFAULT_SLUG}_postgres_password" in names
    # The app reads its database with that password: readiness checks the database.
    assert stack.get("/health/ready/").status == 200


def test_web_runs_replicas_with_start_first_updates_and_rollback(stack):
    assert stack.inspect("web", "{{.Spec.Mode.Replicated.Replicas}}").strip() == "2"
    update = json.loads(stack.inspect("web", "{{json .Spec.UpdateConfig}}"))
    assert (update["Order"], update["FailureAction"]) == ("start-first", "rollback")
    limits = json.loads(stack.inspect("web", "{{json .Spec.TaskTemplate.Resources.Limits}}"))
    assert limits["NanoCPUs"] > 0 and limits["MemoryBytes"] > 0


def test_rolling_update_under_load_fails_no_request(stack, versions):
    state, figures = under_load(stack, lambda: stack.update_image("web", versions["v2"]))
    record_figures("swarm", "rolling_update_v1_to_v2", state=state, **figures)
    assert state == "completed"
    assert stack.running_images("web") == [versions["v2"]] * 2
    assert figures["requests"] > 0
    assert figures["failed"] == 0, stack.with_proxy_trouble(figures)


def test_update_to_a_never_healthy_image_rolls_back_and_keeps_answering(stack, versions):
    image_of_web = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
    serving = stack.inspect("web", image_of_web).strip()
    state, figures = under_load(stack, lambda: stack.update_image("web", versions["v3"]))
    record_figures("swarm", "update_to_unhealthy_v3", state=state, **figures)
    assert state == "rollback_completed"
    assert stack.inspect("web", image_of_web).strip() == serving
    assert stack.get("/").status == 200
    assert figures["failed"] == 0, stack.with_proxy_trouble(figures)


def test_with_s3_a_file_one_replica_saves_is_read_by_the_other(stack, tmp_path):
    """Why s3.yaml exists: a volume is each node's own, a bucket every replica's. The stack
    is deployed again with s3.yaml and the S3 stand-in (moto) beside it; one web replica
    saves a file through Django's storage, the other reads it back, byte for byte."""
    for key in ("aws_access_key_id", "aws_secret_access_key"):
        (tmp_path / key).write_text(f"swarm-test-{key}-{uuid.uuid4().hex}")
        engine.docker("secret", "create", f"{DEFAULT_SLUG}_{key}", str(tmp_path / key))
    bucket = {
        "AWS_STORAGE_BUCKET_NAME": "uploads",
        "AWS_S3_ENDPOINT_URL": "http://s3:5000",
        "AWS_S3_URL_PROTOCOL": "http:",
        "S3_IMAGE": TEST_IMAGES["s3"],
    }
    project = stack.compose_files[0].parents[2]
    stack.deploy(project / S3_FILE, TEMPLATE / "harness/swarm.s3.yaml", env=bucket)

    def replicas_on_s3():
        listed = engine.docker(
            "ps",
            "--quiet",
            "--filter",
            "health=healthy",
            "--filter",
            f"label=com.docker.swarm.service.name={stack.service('web')}",
        )
        containers = listed.stdout.split()
        on_s3 = [
            container
            for container in containers
            if "AWS_STORAGE_BUCKET_NAME=uploads"
            in engine.docker("inspect", "-f", "{{.Config.Env}}", container).stdout
        ]
        return on_s3 if len(on_s3) == 2 else None

    first, second = client.poll(
        replicas_on_s3,
        UPDATE_TIMEOUT,
        interval=1,
        what="both web replicas healthy with the bucket settings",
    )

    def storage(container, code, check=True):
        script = f"from django.core.files.storage import default_storage as storage\n{code}"
        run = engine.docker(
            "exec", container, "python", "manage.py", "shell", "-c", script, check=check
        )
        return run if not check else run.stdout.strip().splitlines()[-1]

    # The stand-in may still be starting: its first answer makes the bucket.
    make_bucket = "storage.connection.meta.client.create_bucket(Bucket=storage.bucket_name)"
    client.poll(lambda: storage(first, make_bucket, check=False).returncode == 0, 60,
                interval=1, what="the bucket made in the S3 stand-in")  # fmt: skip
    content = uuid.uuid4().hex
    saved = storage(
        first,
        "from django.core.files.base import ContentFile\n"
        f"print(storage.save('swarm/probe.txt', ContentFile(b'{content}')))",
    )
    read = storage(second, f"print(storage.open({saved!r}).read().decode())")
    assert read == content
    # In the bucket, as S3 itself lists it; not on the media volume (one node: both
    # replicas share that volume, which would pass the read above too).
    list_bucket = "storage.connection.meta.client.list_objects_v2(Bucket=storage.bucket_name)"
    listed = storage(second, f"print([o['Key'] for o in {list_bucket}['Contents']])")
    assert listed == str([saved])
    on_volume = engine.docker("exec", first, "test", "-e", f"/app/media/{saved}", check=False)
    assert on_volume.returncode == 1
