"""Build stage: no image carries a secret of the project it was built from, nor the build's
CA bundle, in any layer, its history or its config."""

import base64
import hashlib
import re
import shutil
import uuid

import pytest

from harness import engine, scan
from harness.engine import docker
from harness.template import LOCAL_STATE_CONTENT, OFFICIAL_IMAGES, project_secrets

TARGETS = ["runtime", "nginx"]  # the images that ship
FORBIDDEN_NAMES = {".env", ".git", "ca_bundle"}
# What a build argument, ENV or LABEL carrying a secret would be called.
SECRET_SETTING = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE|CA_BUNDLE)\w*=", re.I)


@pytest.fixture(scope="session")
def public_certificates(docker_engine, tmp_path_factory):
    """Every certificate anywhere in the base images: public roots (Debian's bundle, pip's
    certifi, ...) that any image of theirs ships, whatever the host trusts."""
    directory = tmp_path_factory.mktemp("base-images")
    found = set()
    for base in (OFFICIAL_IMAGES["PYTHON_IMAGE"], OFFICIAL_IMAGES["NGINX_IMAGE"]):
        for _layer, _path, content in scan.layer_files(base, directory):
            if content and b"-----BEGIN CERTIFICATE-----" in content:
                found |= scan.certificates(content)
    return found


def own_secrets(project):
    """The secrets the post-gen hook wrote into this project's .env, as patterns by name."""
    return {
        name: re.compile(re.escape(value.encode()))
        for name, value in project_secrets(project).items()
    }


@pytest.fixture(scope="session")
def secrets_of(build_ca, public_certificates):
    """What must match nothing in an image built from `project`: its own .env secrets, the
    planted local state, a PEM private key, and the build's CA bundle: the CA made for this
    run, and the host's own CAs that no base image ships (a proxy's CA)."""
    host = engine.host_ca_certificates()
    host_only = sorted(scan.certificates(host) - public_certificates)
    certificates = {
        "the build's throwaway CA": scan.certificates(build_ca.throwaway).pop(),
        **{f"host CA {n} (in no base image)": cert for n, cert in enumerate(host_only)},
    }

    def secrets(project):
        patterns = {
            **own_secrets(project),
            "planted local state": re.compile(re.escape(LOCAL_STATE_CONTENT.encode())),
            "PEM private key": scan.PRIVATE_KEY,
        }
        return patterns, certificates

    return secrets


def as_published(files):
    """The paths of files byte for byte as their Python package published them: each
    installed package's RECORD (from its wheel) names its files with their sha256. Such a
    file cannot hold anything of this build: botocore's own CA bundle, say, which carries
    public roots the host trusts and the base images have since dropped."""
    recorded, hashes = {}, {}
    for _layer, path, content in files:
        if content is None:
            continue
        if path.endswith(".dist-info/RECORD"):
            site_packages = path.rsplit("/", 2)[0]
            for line in content.decode().splitlines():
                name, digest, *_ = line.rsplit(",", 2) + [""]
                if digest.startswith("sha256="):
                    recorded[f"{site_packages}/{name}"] = digest.removeprefix("sha256=")
        elif b"-----BEGIN CERTIFICATE-----" in content:
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            hashes[path] = digest.decode()
    return {path for path, digest in hashes.items() if recorded.get(path) == digest}


def layer_findings(tag, patterns, certificates, directory):
    layers, seen = set(), []

    def files():
        for layer, path, content in scan.layer_files(tag, directory):
            layers.add(layer)
            seen.append((layer, path, content if content and (
                path.endswith(".dist-info/RECORD") or b"-----BEGIN CERTIFICATE-----" in content
            ) else None))  # fmt: skip
            yield layer, path, content

    found = scan.findings(files(), patterns, certificates, FORBIDDEN_NAMES)
    assert len(layers) > 3  # every layer, not only the last
    published = as_published(seen)
    return [(path, name) for path, name in found if path not in published]


def settings_findings(tag, patterns):
    """Secrets in the image's history (build arguments, RUN lines) or config (ENV, LABEL)."""
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
    config = docker("image", "inspect", "--format", "{{json .Config}}", tag).stdout
    found = set()
    for text in (history, config):
        found |= {name for name, pattern in patterns.items() if pattern.search(text.encode())}
        found |= set(SECRET_SETTING.findall(text))
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_no_layer_of_the_saved_image_holds_a_secret(
    built_image, secrets_of, option_set, target, tmp_path
):
    image = built_image(option_set, target)
    patterns, certificates = secrets_of(image.project)
    assert layer_findings(image.tag, patterns, certificates, tmp_path) == []


@pytest.mark.parametrize("target", TARGETS)
def test_image_history_and_config_show_no_secret(built_image, secrets_of, option_set, target):
    image = built_image(option_set, target)
    patterns, _ = secrets_of(image.project)
    assert settings_findings(image.tag, patterns) == set()


def test_the_scans_find_the_projects_own_secrets_leaked_under_other_names(
    built_image, build_ca, secrets_of, tmp_path
):
    """The scans above can fail: the same project, built with its .env and the build's CA
    bundle copied into the code under innocent names, and a secret in an ENV."""
    original = built_image("default").project
    project = tmp_path / original.name
    shutil.copytree(original, project)
    (project / "config/notes.txt").write_bytes((project / ".env").read_bytes())
    (project / "config/trusted.txt").write_bytes(build_ca.bundle.read_bytes())
    secret_key = project_secrets(project)["DJANGO_SECRET_KEY"]
    with (project / "Dockerfile").open("a") as dockerfile:
        dockerfile.write(f"\nFROM runtime AS leaky\nENV NOTES={secret_key}\n")
    tag = f"django-docker-test/leaky:{uuid.uuid4().hex[:8]}"
    try:
        engine.build(project, tag, target="leaky", ca_bundle=build_ca.bundle)
        patterns, certificates = secrets_of(original)
        found = layer_findings(tag, patterns, certificates, tmp_path)
        assert {name for path, name in found if path == "app/config/notes.txt"} == set(
            project_secrets(original)
        )
        assert (
            "app/config/trusted.txt",
            "the build's throwaway CA",
        ) in found
        assert settings_findings(tag, patterns) == {"DJANGO_SECRET_KEY"}
    finally:
        docker("rmi", "--force", tag, check=False)
