"""Reading the baked Kubernetes manifests as kustomize renders them: the objects, their
pods and containers, and what each container is given."""

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from harness import client, engine
from harness.baked import tool, uv_run

# Debian's kubectl 1.32.3 with its built-in kustomize, from .ci/provision-kubectl.sh.
KUBECTL = Path("/usr/local/lib/django-docker/kubectl")
# The schemas every object must fit: kubectl's version, and the Pod Security version the
# prod namespace enforces.
KUBERNETES_VERSION = "1.32"
WORKLOAD_KINDS = ("Deployment", "Job", "CronJob")
PROBE_KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
# The kubelet probes by pod IP over plain HTTP; the Host header is that address.
KUBELET_HOST = "10.0.0.7:8000"
# The runtime image's settings module (its ENV), which the manifests rely on.
SETTINGS_MODULE = "config.settings.prod"
# Where the nginx image keeps its site's parts (docker/nginx/*.conf), and the script that
# writes the site from them at start, into conf.d (docker/nginx/site.sh).
NGINX_UPSTREAM = "/etc/nginx/site/upstream.conf"
NGINX_SITE_SCRIPT = "docker/nginx/site.sh"
NGINX_SITE = "/etc/nginx/conf.d/default.conf"
# yamllint's defaults, with lines up to 100 characters (as ruff's) and no "---" opening
# each file: kustomize's own files never have one.
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}"


def named(objects, kind):
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def workloads(objects):
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_template(workload):
    """A workload's pod template; a CronJob's is in the Job it makes."""
    spec = workload["spec"]
    return (spec["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else spec)["template"]


def pod_spec(workload):
    return pod_template(workload)["spec"]


def all_containers(workload):
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector, labels):
    return all(labels.get(name) == value for name, value in selector.items())


def pods_selected(objects, selector):
    """Names of the workloads whose pods carry every label of the selector."""
    return sorted(
        workload["metadata"]["name"]
        for workload in workloads(objects)
        if selects(selector, pod_template(workload)["metadata"]["labels"])
    )


def port_number(container, port):
    """A probe's or Service's port, which may be a container port's name."""
    by_name = {entry["name"]: entry["containerPort"] for entry in container.get("ports", [])}
    return by_name[port] if isinstance(port, str) else port


def secret_data(secret):
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def environment(container, objects, pod=None):
    """The variables a container gets from the ConfigMaps and Secrets it names, and its
    own `env` values (which win, as in Kubernetes). With its pod: each NAME_FILE that
    names a file of a mounted Secret as NAME with that file's value, as the settings read
    it (django-environ's FileAwareEnv)."""
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= named(objects, "ConfigMap")[source["configMapRef"]["name"]]["data"]
        else:
            env |= secret_data(named(objects, "Secret")[source["secretRef"]["name"]])
    env |= {variable["name"]: variable["value"] for variable in container.get("env", [])}
    files = secret_files(objects, pod, container) if pod else {}
    for name, path in list(env.items()):
        if name.endswith("_FILE") and path in files:
            del env[name]
            env[name.removesuffix("_FILE")] = files[path]
    return env


def secret_files(objects, pod, container):
    """The files a container gets from Secrets, by their path: a key per file."""
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    secrets = named(objects, "Secret")
    return {
        f"{mount['mountPath']}/{key}": value
        for mount in container.get("volumeMounts", [])
        if (source := volumes[mount["name"]].get("secret"))
        for key, value in secret_data(secrets[source["secretName"]]).items()
    }


def with_secret_values(objects, **values):
    """The objects with these keys' values in every Secret: stand-ins for the managed
    services the placeholders name, given to the pods as the cluster would give them."""
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    return [
        {**obj, "data": {**obj["data"], **encoded}} if obj["kind"] == "Secret" else obj
        for obj in objects
    ]


def nginx_site(project, env, directory):
    """The site the nginx image's start writes for this environment (docker/nginx/site.sh,
    run here with the host's sh, into `directory` instead of conf.d)."""
    script = (project / NGINX_SITE_SCRIPT).read_text()
    site = directory / "default.conf"
    assert f"site={NGINX_SITE}\n" in script
    result = subprocess.run(
        ["sh", "-c", script.replace(f"site={NGINX_SITE}\n", f"site={site}\n")],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return site.read_text()


def nginx_servers(config, host):
    """The `server` blocks of an nginx config whose server_name names `host`."""
    servers = re.findall(r"^server \{\n(.*?)^\}", config, re.M | re.S)
    return [server for server in servers if re.search(rf"server_name [^;]*\b{host}\b", server)]


def nginx_upstream(objects):
    """(Service name, port) of the upstream nginx's pods are given (a ConfigMap's file)."""
    nginx = pod_spec(named(objects, "Deployment")["nginx"])
    files = config_map_files(objects, nginx, nginx["containers"][0])
    upstream = re.search(r"server (\w+):(\d+);", files[NGINX_UPSTREAM])
    return upstream[1], int(upstream[2])


def config_map_files(objects, pod, container):
    """The files a container gets from ConfigMaps, by the path they are mounted at."""
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    config_maps = named(objects, "ConfigMap")
    return {
        mount["mountPath"]: config_maps[source["name"]]["data"][mount["subPath"]]
        for mount in container.get("volumeMounts", [])
        if (source := volumes[mount["name"]].get("configMap"))
    }


def dockerfile(project, instruction):
    return re.search(rf"^{instruction} (.+)$", (project / "Dockerfile").read_text(), re.M)[1]


def kustomize(kubectl, directory):
    return subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )


def as_deployed(project, directory):
    """A copy of the project's deploy/k8s (and of docker/, where the base takes the backups'
    script from) as its README deploys it: overlays/prod/secret.env written from the base's
    template (keeping the placeholders, here)."""
    for part in ("deploy/k8s", "docker"):
        shutil.copytree(project / part, directory / part)
    k8s = directory / "deploy/k8s"
    shutil.copy(k8s / "base/app-secret.env", k8s / "overlays/prod/secret.env")
    return k8s


def render_each(kubectl, k8s):
    """Each kustomization's objects, by its directory under deploy/k8s (base, overlays/...)."""
    objects = {}
    for directory in [k8s / "base", *sorted((k8s / "overlays").iterdir())]:
        result = kustomize(kubectl, directory)
        assert result.returncode == 0, f"{directory.name}: {result.stderr}"
        objects[str(directory.relative_to(k8s))] = list(yaml.safe_load_all(result.stdout))
    return objects


def unused_files(kustomization):
    """The files beside a kustomization.yaml that it does not name: never deployed."""
    spec = yaml.safe_load(kustomization.read_text())
    generators = [*spec.get("configMapGenerator", []), *spec.get("secretGenerator", [])]
    used = {
        *spec.get("resources", []),
        *(patch["path"] for patch in spec.get("patches", [])),
        *(env for generator in generators for env in generator.get("envs", [])),
        # `key=file`, or just `file`
        *(f.rpartition("=")[2] for generator in generators for f in generator.get("files", [])),
    }
    files = {path.name for path in kustomization.parent.iterdir() if path.is_file()}
    return files - used - {"kustomization.yaml", ".gitignore"}


def yamllint(project):
    """yamllint, strict, on the project's deploy/k8s."""
    return subprocess.run(
        [tool("yamllint"), "--strict", "--config-data", YAMLLINT_CONFIG, "deploy/k8s"],
        cwd=project, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def each_container(overlays):
    """(where, pod spec, container) of every container of every workload of the overlays;
    `where` names it for an assertion's message."""
    for name, objects in overlays.items():
        for workload in workloads(objects):
            for container in all_containers(workload):
                where = f"{name} {workload['metadata']['name']}/{container['name']}"
                yield where, pod_spec(workload), container


def secret_keys(objects):
    """The keys of every Secret: what the cluster's secrets hold, values aside."""
    return {key for secret in named(objects, "Secret").values() for key in secret["data"]}


def http_headers(probe):
    """A probe's `httpGet.httpHeaders`, as a dict."""
    return {header["name"]: header["value"] for header in probe.get("httpHeaders", [])}


def answers_probe(base_url, http_get):
    """Whether the server at `base_url` answers a probe's `httpGet` (path, Host header) 200."""
    return client.request(base_url + http_get["path"], headers=http_headers(http_get)).status == 200


# Run in the baked project: argv is the environment (JSON), the Host header, the paths.
PROBE_SCRIPT = """
import json, os, sys
os.environ.update(json.loads(sys.argv[1]))
import django
django.setup()
from django.test import Client
print(json.dumps([Client().get(path, HTTP_HOST=sys.argv[2]).status_code for path in sys.argv[3:]]))
"""


def probe_statuses(project, env, paths):
    """The app's answers to the kubelet's requests for `paths`, under production settings."""
    env = {**env, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    result = uv_run(
        project, "run", "--locked", "--all-extras", "python", "-c", PROBE_SCRIPT,
        json.dumps(env), KUBELET_HOST, *paths,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip(paths, json.loads(result.stdout), strict=True))


# The kernel's default, which containerd 1.x and CRI-O leave alone; Docker lowers it to 0,
# which would hide a pod that needs the sysctl and lacks it.
UNPRIVILEGED_PORT_START = {"net.ipv4.ip_unprivileged_port_start": "1024"}
# Stands in for the managed Postgres: a SQLite file in a directory outside the pods.
DATABASE_DIR = "/database"
DATABASE_URL = f"sqlite:///{DATABASE_DIR}/db.sqlite3"
# Stands in for the managed Redis the Secret names (CACHE_URL), as SQLite does for Postgres.
LOCAL_CACHE_URL = "locmemcache://"


def world_writable_directory(path):
    path.mkdir()
    path.chmod(0o777)
    return path


def as_docker_run(objects, pod, container, workdir, claims=None):
    """`docker run` flags giving a container what its pod spec grants, no more: its user,
    capabilities, sysctls, writable emptyDirs and volume claims, files from ConfigMaps and
    Secrets, the rest of the root read-only. (Docker's default seccomp profile stands for
    RuntimeDefault.) The database is in `workdir`, the claims in `claims` (or there too)."""
    security = pod["securityContext"] | container["securityContext"]
    flags = [
        f"--user={security['runAsUser']}:{security['runAsGroup']}",
        *(f"--cap-drop={cap}" for cap in security["capabilities"].get("drop", [])),
        *(f"--cap-add={cap}" for cap in security["capabilities"].get("add", [])),
        f"--volume={workdir / 'database'}:{DATABASE_DIR}",
        # nginx resolves its upstream at start; the web Service is not part of this check.
        "--add-host=web:127.0.0.1",
    ]
    if not security["allowPrivilegeEscalation"]:
        flags.append("--security-opt=no-new-privileges")
    if security["readOnlyRootFilesystem"]:
        flags.append("--read-only")
    sysctls = UNPRIVILEGED_PORT_START | {s["name"]: s["value"] for s in security.get("sysctls", [])}
    flags += [f"--sysctl={name}={value}" for name, value in sysctls.items()]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    files = config_map_files(objects, pod, container)
    secrets = secret_files(objects, pod, container)
    for mount in container.get("volumeMounts", []):
        if "secret" in volumes[mount["name"]]:
            directory = workdir / mount["name"]
            directory.mkdir(exist_ok=True)
            for path, value in secrets.items():
                if path.startswith(mount["mountPath"] + "/"):
                    (directory / path.rpartition("/")[2]).write_text(value)
            flags.append(f"--volume={directory}:{mount['mountPath']}:ro")
            continue
        if mount["mountPath"] in files:
            copy = workdir / mount["name"]
            copy.write_text(files[mount["mountPath"]])
            flags.append(f"--volume={copy}:{mount['mountPath']}:ro")
            continue
        if claim := volumes[mount["name"]].get("persistentVolumeClaim"):
            # Outlives the pod: kept in `claims` from one run to the next, world-writable
            # as the pod's fsGroup makes it for its user.
            directory = (claims or workdir) / claim["claimName"]
            if not directory.exists():
                world_writable_directory(directory)
            flags.append(f"--volume={directory}:{mount['mountPath']}")
            continue
        assert "emptyDir" in volumes[mount["name"]], mount
        # An emptyDir is a fresh world-writable directory. (A Docker tmpfs would take the
        # owner of the image's directory instead.)
        directory = world_writable_directory(workdir / mount["name"])
        flags.append(f"--volume={directory}:{mount['mountPath']}")
    return flags


def local_images(project, image, option_set):
    """The base's image names (compose's local names), each the tag this session built
    for the option set (`image`, the fixture)."""
    return {project.name: image(option_set), f"{project.name}-nginx": image(option_set, "nginx")}


def run_as_granted(objects, workload, container, workdir, tag, env):
    """The container's command in a container of `tag` with no more than its pod spec
    grants (`as_docker_run`) and `env`, to the end."""
    granted = as_docker_run(objects, pod_spec(workload), container, workdir)
    flags = [*granted, *engine.env_flags(env)]
    return engine.docker("run", "--rm", *flags, tag, *container["command"], check=False)
