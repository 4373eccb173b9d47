"""Scale stage, Kubernetes: the baked manifests (deploy/k8s) render with kustomize, are
valid objects of one Kubernetes version, and say what production needs. Every assertion is
about kustomize's output, the objects a cluster would be given. There is no cluster here:
the last tests run the project's images under Docker as the pod specs say, to show that
the hardening leaves the servers working."""

import re
import shutil

import kubernetes_validate
import pytest

from harness import client, engine
from harness.baked import synced
from harness.kubernetes import (
    DATABASE_URL,
    KUBERNETES_VERSION,
    LOCAL_CACHE_URL,
    PROBE_KINDS,
    all_containers,
    answers_probe,
    as_deployed,
    as_docker_run,
    dockerfile,
    each_container,
    environment,
    http_headers,
    kustomize,
    local_images,
    named,
    nginx_servers,
    nginx_site,
    nginx_upstream,
    pod_spec,
    pods_selected,
    port_number,
    probe_statuses,
    render_each,
    run_as_granted,
    secret_keys,
    unused_files,
    with_secret_values,
    workloads,
    world_writable_directory,
    yamllint,
)
from harness.stacks import PUBLIC_HOST
from harness.template import OPTION_SETS, chosen


@pytest.fixture(scope="module")
def project(bake, option_set):
    """A project baked with the manifests, once per option set (Celery adds a worker)."""
    return bake(**OPTION_SETS[option_set], use_kubernetes="y")


@pytest.fixture(scope="module")
def k8s(project, tmp_path_factory):
    """The project's deploy/k8s as its README deploys it: overlays/prod/secret.env written
    from the base's template (keeping the placeholders, here)."""
    return as_deployed(project, tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="module")
def rendered(kubectl, k8s):
    """Each kustomization's objects, by its directory under deploy/k8s (base, overlays/...)."""
    return render_each(kubectl, k8s)


@pytest.fixture(scope="module")
def overlays(rendered):
    """What gets deployed: every overlay's objects (the base is a template)."""
    return {name: objects for name, objects in rendered.items() if name != "base"}


def test_every_kustomization_renders_the_objects_production_needs(rendered, option_set):
    assert sorted(rendered) == ["base", "overlays/prod"]
    for name, objects in rendered.items():
        kinds = {obj["kind"] for obj in objects}
        assert kinds >= {"ConfigMap", "Secret", "Deployment", "Service", "Job", "Ingress",
                         "HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob",
                         "PersistentVolumeClaim"}, name  # fmt: skip
        celery = ["beat", "worker"] if chosen(option_set, "use_celery") else []
        deployments = sorted(["nginx", "web", *celery])
        assert sorted(named(objects, "Deployment")) == deployments, name
    prod = rendered["overlays/prod"]
    (namespace,) = named(prod, "Namespace")
    assert {obj["metadata"].get("namespace", namespace) for obj in prod} == {namespace}


def test_the_readme_deploys_into_the_namespace_the_overlay_renders(rendered, project):
    (namespace,) = named(rendered["overlays/prod"], "Namespace")
    # A DNS label (RFC 1123), as Kubernetes requires of a namespace's name.
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", namespace)
    readme = (project / "README.md").read_text()
    assert set(re.findall(r"--namespace (\S+)", readme)) == {namespace}


def test_the_manifests_pass_yamllint(bake, option_set):
    # The longest slug makes the longest lines.
    project = bake(**OPTION_SETS[option_set], use_kubernetes="y", project_slug="x" * 40)
    result = yamllint(project)
    assert result.returncode == 0, result.stdout


def test_every_file_in_a_kustomization_directory_is_used(k8s):
    """A file no kustomization names is never deployed: a forgotten resource, or one a
    bake should have removed with its option."""
    for kustomization in k8s.rglob("kustomization.yaml"):
        assert not unused_files(kustomization), kustomization.parent.name


def test_the_prod_overlay_refuses_to_render_without_its_secret_file(kubectl, k8s, tmp_path):
    """So the base's placeholder secrets can never be deployed by mistake."""
    without_secrets = shutil.copytree(k8s.parents[1], tmp_path / "project") / "deploy/k8s"
    (without_secrets / "overlays/prod/secret.env").unlink()
    result = kustomize(kubectl, without_secrets / "overlays/prod")
    assert result.returncode != 0
    assert "secret.env" in result.stderr


def test_every_object_fits_the_kubernetes_schemas_strictly(rendered):
    """Strict: a misspelt or misplaced field is an error, not silently dropped."""
    failures = []
    for name, objects in rendered.items():
        for obj in objects:
            try:
                version = kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
                assert version == KUBERNETES_VERSION  # no fallback to older schemas
            except kubernetes_validate.ValidationError as error:
                failures.append(f"{name} {obj['kind']}/{obj['metadata']['name']}: {error}")
    assert not failures, "\n".join(failures)


def test_every_container_runs_unprivileged_on_a_read_only_root(overlays, project):
    user, group = map(int, dockerfile(project, "USER").split(":"))
    expected = {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": group,
        "seccompProfile": {"type": "RuntimeDefault"},
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    for where, pod, container in each_container(overlays):
        assert pod["automountServiceAccountToken"] is False, where
        # A container's own settings override its pod's.
        effective = pod["securityContext"] | container["securityContext"]
        assert {key: effective.get(key) for key in expected} == expected, where


def test_every_container_has_resource_requests_and_a_memory_limit(overlays):
    for where, _, container in each_container(overlays):
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), where
        assert "memory" in resources["limits"], where


def test_web_probes_are_answered_by_the_app_by_pod_ip_over_plain_http(overlays, project, tmp_path):
    """Liveness and startup ask whether gunicorn serves; readiness whether the database
    answers too. The app is the baked project's, with the environment the manifests give
    it and SQLite standing in for the managed Postgres: up, then unreachable."""
    for objects in overlays.values():
        web = named(objects, "Deployment")["web"]
        container = next(c for c in pod_spec(web)["containers"] if c["name"] == "web")
        probes = {kind: container[kind]["httpGet"] for kind in PROBE_KINDS}
        for probe in probes.values():
            assert port_number(container, probe["port"]) == int(dockerfile(project, "EXPOSE"))
        paths = sorted({probe["path"] for probe in probes.values()})
        env = environment(container, objects, pod_spec(web)) | {"CACHE_URL": LOCAL_CACHE_URL}
        database_up = {**env, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
        database_down = {**env, "DATABASE_URL": "sqlite:////nonexistent-directory/db.sqlite3"}
        up = probe_statuses(synced(project), database_up, paths)
        down = probe_statuses(project, database_down, paths)
        answers = {kind: (up[probe["path"]], down[probe["path"]]) for kind, probe in probes.items()}
        assert answers == {
            "startupProbe": (200, 200),
            "livenessProbe": (200, 200),
            "readinessProbe": (200, 503),
        }


def test_nginx_probes_reach_nginx_own_health_location(overlays, project, tmp_path):
    """By pod IP, nginx's default server drops the request (444): the probe must name a
    host that nginx's site serves, and a location that site answers itself. The site is
    the one nginx's start writes for the container's environment (TLS_MODE)."""
    for objects in overlays.values():
        (container,) = pod_spec(named(objects, "Deployment")["nginx"])["containers"]
        config = nginx_site(project, environment(container, objects), tmp_path)
        for kind in ("livenessProbe", "readinessProbe"):
            probe = container[kind]["httpGet"]
            assert f"listen {port_number(container, probe['port'])};" in config
            host = http_headers(probe).get("Host")
            sites = nginx_servers(config, host)
            assert sites, f"{kind}: no server of nginx's serves Host {host}"
            assert f"location = {probe['path']} {{" in sites[0], kind


def test_migrations_run_once_before_new_code_serves(overlays):
    for objects in overlays.values():
        (migrate,) = pod_spec(named(objects, "Job")["migrate"])["containers"]
        # Then the first superuser (DJANGO_SUPERUSER_* in the Secret), once the schema is there.
        assert migrate["command"][:2] == ["sh", "-c"]
        script = migrate["command"][2]
        assert re.fullmatch(
            r"python manage\.py migrate --noinput && (exec )?python manage\.py ensure_superuser",
            script,
        ), script
        assert pod_spec(named(objects, "Job")["migrate"])["restartPolicy"] == "Never"
        for deployment in named(objects, "Deployment").values():
            if all_containers(deployment)[0]["image"] != migrate["image"]:
                continue  # nginx: no app code
            # The kubelet retries this until the Job has migrated; old pods serve meanwhile.
            (wait,) = pod_spec(deployment)["initContainers"]
            assert wait["command"] == ["python", "manage.py", "migrate", "--check"]
            for container in all_containers(deployment):
                assert container["image"] == migrate["image"]
                assert container["envFrom"] == migrate["envFrom"]


def test_the_autoscaler_scales_the_web_deployment_by_cpu(overlays):
    for objects in overlays.values():
        (autoscaler,) = named(objects, "HorizontalPodAutoscaler").values()
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"], target["name"]) == (
            "apps/v1",
            "Deployment",
            "web",
        )
        web = named(objects, "Deployment")["web"]
        # A replica count in the Deployment would reset the autoscaler's at every apply.
        assert "replicas" not in web["spec"]
        assert autoscaler["spec"]["minReplicas"] >= 2
        # Utilization is a share of the request: without one the autoscaler cannot act.
        (metric,) = autoscaler["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert all("cpu" in c["resources"]["requests"] for c in pod_spec(web)["containers"])


def test_disruption_budgets_select_exactly_the_pods_they_protect(overlays):
    for objects in overlays.values():
        budgets = named(objects, "PodDisruptionBudget")
        assert sorted(budgets) == ["nginx", "web"]
        for name, budget in budgets.items():
            assert pods_selected(objects, budget["spec"]["selector"]["matchLabels"]) == [name]


def test_services_select_the_pods_that_serve_their_ports(overlays, project):
    for objects in overlays.values():
        services = named(objects, "Service")
        for name, service in services.items():
            # Each Service is named after its Deployment, whose pods alone it selects.
            assert pods_selected(objects, service["spec"]["selector"]) == [name]
            (container,) = pod_spec(named(objects, "Deployment")[name])["containers"]
            for port in service["spec"]["ports"]:
                assert port_number(container, port["targetPort"]), f"{name} {port}"
        # The upstream nginx gets on Kubernetes names this Service and its port.
        service_name, service_port = nginx_upstream(objects)
        assert service_port in [port["port"] for port in services[service_name]["spec"]["ports"]]


def test_the_ingress_routes_the_domain_over_tls_to_services_that_exist(overlays):
    for objects in overlays.values():
        services = named(objects, "Service")
        (ingress,) = named(objects, "Ingress").values()
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] == PUBLIC_HOST
        assert [PUBLIC_HOST] in [tls["hosts"] for tls in ingress["spec"]["tls"]]
        # Behind it nginx speaks plain HTTP, believing the controller's X-Forwarded-Proto.
        (nginx,) = pod_spec(named(objects, "Deployment")["nginx"])["containers"]
        env = environment(nginx, objects)
        assert env["TLS_MODE"] == "off" and env["TRUSTED_PROXIES"].split()
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = services[backend["name"]]["spec"]["ports"]
            assert backend["port"]["name"] in [port["name"] for port in ports]


def test_every_image_comes_from_the_overlays_registry_at_a_release_tag(overlays):
    """The overlay's `images:` entries replace the base's local names, so a company
    registry can hold them; `latest` would make a rollback roll nothing back."""
    for _, _, container in each_container(overlays):
        name, _, tag = container["image"].rpartition(":")
        assert name.startswith("registry.example.com/"), container["image"]
        assert tag and tag != "latest", container["image"]


def test_with_celery_a_worker_consumes_from_the_broker_in_the_secret(overlays, option_set):
    """The broker is a managed Redis: its URL is a secret, and no Redis runs here."""
    for objects in overlays.values():
        worker = named(objects, "Deployment").get("worker")
        if not chosen(option_set, "use_celery"):
            assert worker is None
            assert "CELERY_BROKER_URL" not in secret_keys(objects)
            continue
        (container,) = pod_spec(worker)["containers"]
        command = container["command"]
        assert command[0] == "celery" and "worker" in command
        assert command.index("--quiet") < command.index("worker")  # no banner among JSON lines
        assert "CELERY_BROKER_URL" in secret_keys(objects)
        broker = environment(container, objects, pod_spec(worker))["CELERY_BROKER_URL"]
        assert broker.startswith("redis://")
        assert not [obj for obj in objects if "redis" in obj["metadata"]["name"]]


def test_every_app_pod_caches_in_the_managed_redis_of_the_secret(overlays):
    """One cache for every web pod: a managed Redis, named by CACHE_URL in the Secret."""
    for objects in overlays.values():
        assert "CACHE_URL" in secret_keys(objects)
        (migrate,) = pod_spec(named(objects, "Job")["migrate"])["containers"]
        for workload in workloads(objects):
            for container in pod_spec(workload)["containers"]:
                if container["image"] == migrate["image"]:  # the app's
                    env = environment(container, objects, pod_spec(workload))
                    assert env["CACHE_URL"].startswith("redis://")
        assert not [obj for obj in objects if "redis" in obj["metadata"]["name"]]


def test_with_celery_exactly_one_beat_runs_even_during_a_rollout(overlays, option_set):
    """Two beats would send each periodic task twice: one replica, and Recreate (the old
    pod is gone before the new one starts), no autoscaler on it."""
    for objects in overlays.values():
        beat = named(objects, "Deployment").get("beat")
        if not chosen(option_set, "use_celery"):
            assert beat is None
            continue
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        (container,) = pod_spec(beat)["containers"]
        command = container["command"]
        assert command[0] == "celery" and "beat" in command
        assert command.index("--quiet") < command.index("beat")  # no banner among JSON lines
        autoscaled = [a["spec"]["scaleTargetRef"]["name"]
                      for a in named(objects, "HorizontalPodAutoscaler").values()]  # fmt: skip
        assert "beat" not in autoscaled


@pytest.fixture
def workdir(tmp_path):
    """Where a test's containers keep their database and emptyDirs."""
    world_writable_directory(tmp_path / "database")
    return tmp_path


@pytest.mark.parametrize("deployment", ["web", "nginx"])
def test_servers_answer_their_probes_with_no_more_than_their_pod_spec_grants(
    rendered, project, image, option_set, deployment, workdir
):
    """The kubelet's own requests (path, port, Host header), within the startup budget.
    Secrets as the pod gets them: files, here naming the stand-ins."""
    objects = with_secret_values(
        rendered["base"], DATABASE_URL=DATABASE_URL, CACHE_URL=LOCAL_CACHE_URL
    )
    pod = pod_spec(named(objects, "Deployment")[deployment])
    (container,) = pod["containers"]
    env = environment(container, objects)
    tag = local_images(project, image, option_set)[container["image"]]
    # Startup first, where there is one: the budget is the kubelet's patience with it.
    probes = [container[kind] for kind in PROBE_KINDS if kind in container]
    budget = probes[0].get("periodSeconds", 10) * probes[0].get("failureThreshold", 3)
    port = port_number(container, probes[0]["httpGet"]["port"])
    granted = as_docker_run(objects, pod, container, workdir)
    with engine.running(tag, env, *granted, port=port) as server:
        for probe in probes:
            http_get = probe["httpGet"]
            client.poll(lambda http_get=http_get: answers_probe(server.base_url, http_get), budget,
                        what=f"{deployment}: GET {http_get['path']} == 200")  # fmt: skip


def test_new_code_waits_for_the_migrate_job_which_runs_with_no_more_than_its_pod_spec_grants(
    rendered, project, image, option_set, workdir
):
    """web's init container holds its pod back until the Job has migrated the database."""
    objects = with_secret_values(rendered["base"], DATABASE_URL=DATABASE_URL)
    tag = image(option_set)

    def run(workload, container):
        env = environment(container, objects)
        return run_as_granted(objects, workload, container, workdir, tag, env)

    job = named(objects, "Job")["migrate"]
    web = named(objects, "Deployment")["web"]
    (migrate,) = pod_spec(job)["containers"]
    (wait,) = pod_spec(web)["initContainers"]
    assert run(web, wait).returncode != 0
    migrated = run(job, migrate)
    assert migrated.returncode == 0, migrated.stderr
    assert "Applying auth.0001_initial... OK" in migrated.stdout
    assert run(web, wait).returncode == 0
