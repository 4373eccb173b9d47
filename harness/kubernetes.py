"""Reading the baked Kubernetes manifests as kustomize renders them: the objects, their
pods and containers, and what each container is given."""

import base64
import re
import subprocess
from pathlib import Path

# Debian's kubectl 1.32.3 with its built-in kustomize, from .ci/provision-kubectl.sh.
KUBECTL = Path("/usr/local/lib/django-docker/kubectl")
# The schemas every object must fit: kubectl's version, and the Pod Security version the
# prod namespace enforces.
KUBERNETES_VERSION = "1.32"
WORKLOAD_KINDS = ("Deployment", "Job")
PROBE_KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
# The kubelet probes by pod IP over plain HTTP; the Host header is that address.
KUBELET_HOST = "10.0.0.7:8000"
# The runtime image's settings module (its ENV), which the manifests rely on.
SETTINGS_MODULE = "config.settings.prod"
NGINX_UPSTREAM = "/etc/nginx/conf.d/upstream.conf"
# yamllint's defaults, with lines up to 100 characters (as ruff's) and no "---" opening
# each file: kustomize's own files never have one.
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}"


def named(objects, kind):
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def workloads(objects):
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


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
        if selects(selector, workload["spec"]["template"]["metadata"]["labels"])
    )


def port_number(container, port):
    """A probe's or Service's port, which may be a container port's name."""
    by_name = {entry["name"]: entry["containerPort"] for entry in container.get("ports", [])}
    return by_name[port] if isinstance(port, str) else port


def environment(container, objects):
    """The variables a container gets from the ConfigMaps and Secrets it names."""
    env = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env |= named(objects, "ConfigMap")[source["configMapRef"]["name"]]["data"]
        else:
            secret = named(objects, "Secret")[source["secretRef"]["name"]]
            env |= {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    return env


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
