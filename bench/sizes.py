"""Image sizes: each image over the base, its layers, and the irreducible part (the app
as installed, untrimmed) that the template's bytes over base are measured against."""

import re

from bench.host import BASE_IMAGE
from bench.records import Irreducible, Layer, Size, Variant
from harness import engine


def image_size(tag):
    return int(engine.docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def du_bytes(resources, image, path):
    """Apparent size of a directory inside an image, as `docker image inspect` counts it."""
    output = resources.run_once(image, "du", "--summarize", "--bytes", path)
    return int(output.split()[0])


def installed_bytes(resources, image):
    """Apparent size of the directory pip installs into (Python's purelib; 0 if absent)."""
    script = (
        "dir=$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'); "
        'if [ -d "$dir" ]; then du --summarize --bytes "$dir"; else echo 0; fi'
    )
    return int(resources.run_once(image, "sh", "-c", script).split()[0])


def layers(tag):
    """Every layer that adds more than 100 kB, oldest first."""
    history = engine.docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", tag
    ).stdout
    rows = []
    for line in reversed(history.strip().splitlines()):
        size, _, created_by = line.partition("\t")
        if int(size) > 100_000:
            created_by = re.sub(r"\s+", " ", created_by.removeprefix("/bin/sh -c ")).strip()
            rows.append(Layer(int(size), created_by[:110] or "(base image)"))
    return rows


def measure_sizes(images, resources):
    """Each variant's Size (by name, from its image tag), and the irreducible part."""
    base = image_size(BASE_IMAGE)
    sizes = {}
    for variant, tag in images.items():
        size = image_size(tag)
        sizes[variant] = Size(size, size - base, layers(tag))
    # The dependencies as pip installs them, untrimmed: what the naive image adds to the
    # base image's site-packages. The template's own venv may be smaller, as its
    # Dockerfile drops files nothing reads at run time.
    template = images[Variant.TEMPLATE]
    dependencies = installed_bytes(resources, images[Variant.NAIVE]) - installed_bytes(
        resources, BASE_IMAGE
    )
    irreducible = Irreducible(
        dependencies=dependencies,
        app=du_bytes(resources, template, "/app"),
        static=du_bytes(resources, template, "/app/staticfiles"),
        shipped_venv=du_bytes(resources, template, "/opt/venv"),
    )
    return sizes, irreducible
