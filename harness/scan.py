"""Looking for secrets in an image as it ships: every file of every layer `docker save`
writes, including files a later layer deletes."""

import base64
import json
import re
import subprocess
import tarfile
import uuid

from harness.engine import docker

CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----"
)
# On a line of its own: TLS libraries hold self-test keys inside binary strings.
PRIVATE_KEY = re.compile(rb"(?m)^-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/]{40}")


def layer_files(tag, directory):
    """(layer, path, content) of every entry of every layer of image `tag`; content is
    None for what is not a regular file."""
    saved = directory / f"{uuid.uuid4().hex}.tar"
    docker("save", "--output", str(saved), tag)
    try:
        with tarfile.open(saved) as image_tar:
            (manifest,) = json.load(image_tar.extractfile("manifest.json"))
            for layer in manifest["Layers"]:
                with tarfile.open(fileobj=image_tar.extractfile(layer)) as files:
                    for member in files:
                        content = files.extractfile(member).read() if member.isfile() else None
                        yield layer, member.name.removeprefix("./"), content
    finally:
        saved.unlink()


def certificates(pem):
    """The certificates in PEM text (bytes), each as its base64 without line breaks, so a
    certificate matches however a bundle wraps it."""
    return {re.sub(rb"\s", b"", body) for body in CERTIFICATE.findall(pem)}


def throwaway_ca(directory):
    """A CA certificate (PEM bytes) made for this run: found in an image, it can only have
    come from the build's CA bundle."""
    key, certificate = directory / "throwaway-ca.key", directory / "throwaway-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "1",
         "-subj", f"/CN=django-docker throwaway CA {uuid.uuid4().hex}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate.read_bytes()


def findings(files, patterns, watched_certificates, forbidden_names):
    """Each file (from `layer_files`) whose name is forbidden, whose content matches one of
    the named patterns, or that holds one of the named certificates (base64, as
    `certificates` gives them) as PEM however wrapped or as DER: named, so a finding says
    what leaked without printing it."""
    der = {name: base64.b64decode(cert) for name, cert in watched_certificates.items()}
    found = []
    for _layer, path, content in files:
        if forbidden_names & set(path.split("/")):
            found.append((path, "forbidden name"))
        if content is None:
            continue
        found += [(path, name) for name, pattern in patterns.items() if pattern.search(content)]
        held = certificates(content) if b"-----BEGIN CERTIFICATE-----" in content else set()
        found += [
            (path, name)
            for name, cert in watched_certificates.items()
            if cert in held or der[name] in content
        ]
    return found
