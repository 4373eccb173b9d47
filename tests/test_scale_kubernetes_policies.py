"""Scale stage, Kubernetes hardening: what the NetworkPolicies let through, secrets that
reach the app as files, never as environment variables, and the backups' pods, which run
with no more than that. Read from kustomize's output, as a cluster would be given it; the
pods' labels and ports come from there too.

The policy graph is worked out here the way the NetworkPolicy API defines it, for a
cluster modelled around the app: an Ingress controller, Prometheus, DNS, a stranger's pod
in another namespace, and the managed Postgres and Redis outside.
"""

import copy
import re
import uuid

import pytest
import yaml

from harness import client, engine
from harness.kubernetes import (
    all_containers,
    as_deployed,
    as_docker_run,
    config_map_files,
    environment,
    kustomize,
    named,
    pod_spec,
    pod_template,
    secret_data,
    with_secret_values,
    workloads,
)
from harness.template import OFFICIAL_IMAGES, OPTION_SETS

# Where ingress-nginx and the cluster's DNS run, by their own installs' defaults.
INGRESS_CONTROLLER = ("ingress-nginx", {}, {"app.kubernetes.io/name": "ingress-nginx"})
DNS = ("kube-system", {}, {"k8s-app": "kube-dns"})
STRANGER = ("other", {}, {"app": "other"})
# Outside the cluster: the managed services, and the rest of the internet.
EXTERNAL = {"database": 5432, "cache": 6379, "internet": 443}
# A port no container declares: a process may still listen on it.
UNDECLARED_PORT = 9999
# The label by which the manifests tell their pods apart.
COMPONENT = "app.kubernetes.io/component"


@pytest.fixture(scope="module")
def objects(project, kubectl, tmp_path_factory):
    """What the prod overlay deploys, with its secret.env made from the base's template."""
    k8s = as_deployed(project, tmp_path_factory.mktemp("deploy"))
    rendered = kustomize(kubectl, k8s / "overlays/prod")
    assert rendered.returncode == 0, rendered.stderr
    return list(yaml.safe_load_all(rendered.stdout))


@pytest.fixture(scope="module")
def project(bake, option_set):
    return bake(**OPTION_SETS[option_set], use_kubernetes="y")


@pytest.fixture(scope="module")
def readme(project):
    return (project / "README.md").read_text()


def selects(selector, labels):
    """A label selector (matchLabels and matchExpressions) against a set of labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    return all(expression_holds(e, labels) for e in selector.get("matchExpressions", []))


def expression_holds(expression, labels):
    key, operator = expression["key"], expression["operator"]
    if operator == "In":
        return labels.get(key) in expression["values"]
    if operator == "NotIn":
        return labels.get(key) not in expression["values"]
    return (key in labels) == (operator == "Exists")


class Pod:
    def __init__(self, name, namespace, namespace_labels, labels, ports=()):
        self.name, self.namespace, self.labels = name, namespace, labels
        self.namespace_labels = {"kubernetes.io/metadata.name": namespace, **namespace_labels}
        self.ports = dict(ports)  # name: (number, protocol)


def peer_matches(peer, pod, policy_namespace):
    """One entry of a rule's `from` or `to` against a pod (None: outside the cluster)."""
    if "ipBlock" in peer:
        return pod is None
    if pod is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], pod.namespace_labels)
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and selects(peer.get("podSelector", {}), pod.labels)


def port_matches(rule, port, protocol, destination):
    if "ports" not in rule:
        return True
    for entry in rule["ports"]:
        number = entry.get("port")
        if isinstance(number, str):
            number = destination.ports.get(number, (None,))[0] if destination else None
        if entry.get("protocol", "TCP") == protocol and number in (None, port):
            return True
    return False


def allowed(policies, namespace, pod, direction, peer, port, protocol, destination):
    """Whether the policies of `namespace` let `pod` take (Ingress) or send (Egress) this
    traffic: any policy that selects it for that direction isolates it, and then some rule
    of one of them must match."""
    if pod is None or pod.namespace != namespace:
        return True  # not governed by this namespace's policies
    selecting = [p["spec"] for p in policies if selects(p["spec"]["podSelector"], pod.labels)
                 and direction in p["spec"].get("policyTypes", ["Ingress"])]  # fmt: skip
    if not selecting:
        return True
    peers_key = "from" if direction == "Ingress" else "to"
    return any(
        port_matches(rule, port, protocol, destination)
        and (peers_key not in rule
             or any(peer_matches(entry, peer, namespace) for entry in rule[peers_key]))
        for spec in selecting
        for rule in spec.get(direction.lower(), [])
    )  # fmt: skip


def app_pods(objects):
    (namespace,) = named(objects, "Namespace").values()
    name = namespace["metadata"]["name"]
    labels = namespace["metadata"].get("labels", {})
    pods = []
    for workload in workloads(objects):
        ports = {
            port["name"]: (port["containerPort"], port.get("protocol", "TCP"))
            for container in all_containers(workload)
            for port in container.get("ports", [])
        }
        template_labels = pod_template(workload)["metadata"]["labels"]
        pods.append(Pod(workload["metadata"]["name"], name, labels, template_labels, ports))
    return name, pods


def scraper_namespace(readme):
    """The label the README tells you to put on Prometheus' namespace."""
    found = re.search(r"kubectl label namespace (\S+) ([\w./-]+)=(\w(?:[\w.-]*\w)?)", readme)
    assert found, "the README says how to let Prometheus in"
    return found[1], {found[2]: found[3]}


def edges(objects, readme, policies=None):
    """Every (from, to, port) the policies let through: from the app's pods to anything,
    and from anything outside to the app's pods. A declared port by its name."""
    policies = named(objects, "NetworkPolicy").values() if policies is None else policies
    namespace, pods = app_pods(objects)
    scraper_ns, scraper_labels = scraper_namespace(readme)
    outsiders = [Pod("ingress-controller", INGRESS_CONTROLLER[0], {}, INGRESS_CONTROLLER[2]),
                 Pod("prometheus", scraper_ns, scraper_labels, {"app": "prometheus"}),
                 Pod("stranger", STRANGER[0], {}, STRANGER[2])]  # fmt: skip
    dns = Pod("dns", DNS[0], {}, DNS[2], {"dns": (53, "UDP"), "dns-tcp": (53, "TCP")})
    targets = [(pod, [*pod.ports.items(), (UNDECLARED_PORT, (UNDECLARED_PORT, "TCP"))])
               for pod in [*pods, dns]]  # fmt: skip
    targets += [(None, [(name, (port, "TCP"))]) for name, port in EXTERNAL.items()]
    found = set()
    for source in [*pods, *outsiders]:
        for destination, ports in targets:
            if source not in pods and destination not in pods:
                continue  # neither end is the app's
            for port_name, (port, protocol) in ports:
                sent = allowed(policies, namespace, source, "Egress", destination, port,
                               protocol, destination)  # fmt: skip
                taken = allowed(policies, namespace, destination, "Ingress", source, port,
                                protocol, destination)  # fmt: skip
                if sent and taken:
                    to = destination.name if destination else port_name
                    found.add((source.name, to, port_name if destination else port))
    return found


def backup_pods(pods):
    """The backup's and the restore's pods (backup.yaml, backup-restore.yaml)."""
    return [pod.name for pod in pods if pod.labels.get(COMPONENT) == "backup"]


def expected_edges(objects):
    """Ingress controller → nginx → web; Prometheus → web; the app's code to Postgres and
    Redis; the backups to Postgres; every pod to DNS. Nothing else."""
    _, pods = app_pods(objects)
    backups = backup_pods(pods)
    app_code = [pod.name for pod in pods if pod.name != "nginx" and pod.name not in backups]
    return {
        ("ingress-controller", "nginx", "http"),
        ("nginx", "web", "http"),
        ("prometheus", "web", "http"),
        *((pod.name, "dns", port) for pod in pods for port in ("dns", "dns-tcp")),
        *((name, "database", EXTERNAL["database"]) for name in [*app_code, *backups]),
        *((name, "cache", EXTERNAL["cache"]) for name in app_code),
    }


def test_network_policies_allow_exactly_the_paths_a_request_takes(objects, readme):
    assert edges(objects, readme) == expected_edges(objects)


def test_the_backup_pods_reach_the_database_and_dns_and_nothing_else(objects, readme):
    """Neither Redis nor the internet, and nothing reaches them: a dump holds every row."""
    _, pods = app_pods(objects)
    backups = backup_pods(pods)
    assert sorted(backups) == ["backup", "backup-restore"]
    reached = {(source, to, port) for source, to, port in edges(objects, readme)
               if source in backups or to in backups}  # fmt: skip
    assert reached == {
        (name, to, port)
        for name in backups
        for to, port in [("dns", "dns"), ("dns", "dns-tcp"), ("database", EXTERNAL["database"])]
    }


def test_every_network_policy_is_needed(objects, readme):
    """Without any one of them, the graph differs: each selects pods and changes what
    reaches them (so the check above can fail)."""
    policies = named(objects, "NetworkPolicy")
    assert "default-deny" in policies
    for name in policies:
        without = [policy for other, policy in policies.items() if other != name]
        assert edges(objects, readme, without) != expected_edges(objects), name


def test_no_container_takes_a_secret_from_its_environment(objects):
    for workload in workloads(objects):
        for container in all_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert not [s for s in container.get("envFrom", []) if "secretRef" in s], where
            refs = [v for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})]
            assert not refs, where


def test_every_app_container_reads_every_secret_from_a_file(objects):
    """Each key of the Secret is a file in every container of the app's image, and a
    NAME_FILE variable names it, so the settings read NAME from it; no NAME_FILE names a
    file that is not there (the settings would fail to open it)."""
    (secret,) = named(objects, "Secret").values()
    keys = secret_data(secret)
    (migrate,) = pod_spec(named(objects, "Job")["migrate"])["containers"]
    for workload in workloads(objects):
        pod = pod_spec(workload)
        for container in all_containers(workload):
            if container["image"] != migrate["image"]:
                continue  # nginx: no secrets
            env = environment(container, objects, pod)
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert {key: env.get(key) for key in keys} == keys, where
            assert not [name for name in env if name.endswith("_FILE")], where


def test_each_optional_secret_has_its_file_variable_beside_it(bake):
    """app-secret.env's commented keys (mail, S3, the superuser) each have a commented
    NAME_FILE line in app.env to uncomment with it."""
    base = bake(use_kubernetes="y", use_celery="y") / "deploy/k8s/base"
    keys = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (base / "app-secret.env").read_text(), re.M)
    files = dict(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]*)_FILE=(\S+)", (base / "app.env").read_text(), re.M)
    )
    assert files == {key: f"/run/secrets/app/{key}" for key in keys}


def test_backups_run_daily_one_at_a_time_with_the_projects_script(objects, project):
    """The script is docker/backup/backup.sh, as kustomize makes it a ConfigMap; the restore
    is the same pod, never scheduled."""
    backup, restore = (named(objects, "CronJob")[name] for name in ("backup", "backup-restore"))
    assert re.fullmatch(r"\d+ \d+ \* \* \*", backup["spec"]["schedule"])
    assert backup["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod_spec(backup)["containers"]
    assert container["image"].endswith(f"/{OFFICIAL_IMAGES['POSTGRES_IMAGE']}")
    assert container["args"] == ["now"]
    script = config_map_files(objects, pod_spec(backup), container)["/backup/backup.sh"]
    assert script == (project / "docker/backup/backup.sh").read_text()
    assert restore["spec"]["suspend"] is True
    same_pod = copy.deepcopy(pod_template(restore))
    (restoring,) = same_pod["spec"]["containers"]
    assert restoring["args"] == ["restore", "latest"]
    restoring["args"] = container["args"]
    assert same_pod == pod_template(backup)


def test_a_backup_and_its_restore_run_with_no_more_than_their_pod_specs_grant(
    objects, project, docker_engine, tmp_path
):
    """Against a Postgres named by the Secret's DATABASE_URL (a password that needs
    %-escapes): a backup; a restore refused while the database holds data, then done with
    --force, as the README says."""
    image, name = OFFICIAL_IMAGES["POSTGRES_IMAGE"], f"ddk8s-backup-{uuid.uuid4().hex[:8]}"
    pods = with_secret_values(objects, DATABASE_URL=f"postgres://app:p%40ss%3A%2F@{name}/app")
    engine.docker("network", "create", name)
    try:
        server = ["--name", name, "--network", name, "--env=POSTGRES_USER=app"]
        engine.docker("run", "--detach", *server, "--env=POSTGRES_PASSWORD=p@ss:/", image)

        def psql(sql):
            return engine.docker("exec", name, "psql", "-U", "app", "-XAtc", sql).stdout.strip()

        # Up for good: the image's first start runs a server on its socket only, then this.
        up = ["exec", name, "pg_isready", "--host=127.0.0.1", "--quiet"]
        client.poll(lambda: engine.docker(*up, check=False).returncode == 0, 60, interval=0.5,
                    what="Postgres accepting connections")  # fmt: skip
        psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)")

        def run(cron, *extra):
            pod = pod_spec(named(pods, "CronJob")[cron])
            (container,) = pod["containers"]
            workdir = tmp_path / f"{cron}-{len(extra)}"
            workdir.mkdir()
            granted = as_docker_run(pods, pod, container, workdir, claims=tmp_path)
            env = engine.env_flags(environment(container, pods))
            command = [*container["command"], *container["args"], *extra]
            return engine.docker("run", "--rm", f"--network={name}", *granted, *env, image,
                                 *command, check=False)  # fmt: skip

        taken = run("backup")
        assert taken.returncode == 0, taken.stderr
        psql("INSERT INTO t VALUES (2)")
        refused = run("backup-restore")
        assert refused.returncode != 0 and "holds data" in refused.stderr, refused.stderr
        assert psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t") == "1,2"
        restored = run("backup-restore", "--force")
        assert restored.returncode == 0, restored.stderr
        assert psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t") == "1"
    finally:
        engine.docker("rm", "--force", "--volumes", name, check=False)
        engine.docker("network", "rm", name, check=False)
