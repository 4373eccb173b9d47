"""Builds: the baked project and its dependency change, then each variant's cold build,
rebuild with nothing changed, code-only rebuilds and dependency-change rebuild."""

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bench.host import log
from bench.records import Builds, Variant
from harness import engine
from harness.baked import cookiecutter_cli, uv_run

BASELINES = Path(__file__).resolve().parent / "baselines"
# The dependency change: one small pure-Python package that is not in the lock yet.
EXTRA_DEPENDENCY = "humanize==4.17.0"


@dataclass(frozen=True)
class Recipe:
    """How a variant's runtime image is built from the shared context."""

    dockerfile: Path | None  # None: the baked project's own Dockerfile
    target: str | None = None


RECIPES = {
    Variant.TEMPLATE: Recipe(None, target="runtime"),
    Variant.TYPICAL: Recipe(BASELINES / "typical.Dockerfile"),
    Variant.NAIVE: Recipe(BASELINES / "naive.Dockerfile"),
}


def must(result, what):
    """A host command's result; its output is the error message when it failed."""
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout}{result.stderr}")
    return result


def bake(workdir):
    """The template with every default answer, as `cookiecutter --no-input` makes it, and
    the baselines' requirements.txt beside it."""
    output = workdir / "baked"
    must(cookiecutter_cli(output), "cookiecutter --no-input")
    (project,) = output.iterdir()
    export_requirements(project)
    return project


def export_requirements(project):
    """requirements.txt for the baselines: exactly the template's locked runtime set."""
    export = (
        "export",
        "--frozen",
        "--no-default-groups",
        "--no-hashes",
        "--output-file",
        "requirements.txt",
    )
    must(uv_run(project, *export), "uv export")


def dependency_change(pristine, workdir):
    """The files a developer changes to add one dependency: pyproject.toml, re-locked with
    uv (this needs PyPI), and the baselines' requirements.txt exported from the new lock."""
    project = Path(shutil.copytree(pristine, workdir / "dependency-change"))
    pyproject = project / "pyproject.toml"
    marker = "dependencies = [\n"
    text = pyproject.read_text()
    if marker not in text:
        raise RuntimeError(f"no {marker!r} in the baked pyproject.toml")
    pyproject.write_text(text.replace(marker, f'{marker}    "{EXTRA_DEPENDENCY}",\n', 1))
    must(uv_run(project, "lock"), "uv lock")
    export_requirements(project)
    names = ("pyproject.toml", "uv.lock", "requirements.txt")
    return {name: (project / name).read_bytes() for name in names}


STEP = re.compile(r"^#(\d+) \[([^\]]+)\] (.+)$", re.M)  # #7 [runtime 4/9] COPY config ./config


def steps_run(progress):
    """The Dockerfile steps BuildKit ran rather than took from its cache, from its plain
    progress output: a step it took from its cache is followed by `#7 CACHED`."""
    cached = set(re.findall(r"^#(\d+) CACHED$", progress, re.M))
    steps = {}
    for number, where, instruction in STEP.findall(progress):
        if where.split()[0] in ("internal", "auth") or instruction.startswith("FROM "):
            continue
        if number not in cached:
            stage = where.rpartition(" ")[0]  # "runtime 4/9": runtime; "2/3" (one stage): ""
            shown = re.sub(r"--mount=\S+\s+", "", instruction)[:90]
            steps.setdefault(number, f"{stage}: {shown}" if stage else shown)
    return list(steps.values())


def timed_build(recipe, context, tag, resources, target=None, no_cache=False):
    """`docker buildx build --load` as a user runs it; returns the wall-clock seconds and
    the steps that ran."""
    args = ["buildx", "build", "--load", "--progress=plain", f"--tag={tag}"]
    args += engine.ca_bundle_secret()
    if no_cache:
        args.append("--no-cache")
    if recipe.dockerfile:
        args.append(f"--file={recipe.dockerfile}")
    if target or recipe.target:
        args.append(f"--target={target or recipe.target}")
    resources.image(tag)
    start = time.perf_counter()
    build = engine.docker(*args, str(context), timeout=1800)
    return time.perf_counter() - start, steps_run(build.stderr)


def measure_builds(variant, pristine, dependency_files, workdir, resources, settings):
    """Cold build (empty builder cache), code-only rebuilds, then a dependency change.
    Returns the figures and the tag of the runtime image built from the unedited project."""
    recipe = RECIPES[variant]
    context = Path(shutil.copytree(pristine, workdir / f"context-{variant}"))
    repository = f"{resources.run_id}/{variant}"

    if settings.prune:
        log(f"{variant}: pruning the builder cache, then the cold build")
        engine.docker("builder", "prune", "--all", "--force", timeout=600)
    else:
        log(f"{variant}: the cold build, --no-cache (cache mounts stay warm)")
    image = f"{repository}:cold"
    cold, _ = timed_build(recipe, context, image, resources, no_cache=not settings.prune)
    log(f"{variant}: cold build {cold:.1f} s")

    def rebuild(tag):
        seconds, steps = timed_build(recipe, context, f"{repository}:{tag}", resources)
        resources.drop(f"{repository}:{tag}")
        return seconds, steps

    # The floor under any rebuild: the same build with nothing changed, every step cached.
    unchanged, _ = rebuild("unchanged")

    # A one-line edit of one module, as a developer makes between two builds.
    views = context / pristine.name / "core" / "views.py"
    code = []
    for attempt in range(1, settings.code_rebuilds + 1):
        with views.open("a") as module:
            module.write(f"# bench: code-only edit {attempt}\n")
        seconds, code_steps = rebuild(f"code{attempt}")
        code.append(seconds)
    log(f"{variant}: code-only rebuilds {', '.join(f'{s:.2f}' for s in code)} s")

    for name, content in dependency_files.items():
        (context / name).write_bytes(content)
    dependency, dependency_steps = rebuild("deps")
    log(f"{variant}: dependency-change rebuild {dependency:.1f} s")
    return Builds(cold, unchanged, code, dependency, code_steps, dependency_steps), image


def build_proxy(pristine, resources):
    """The template's nginx image for its stack, from the warm cache."""
    tag = f"{resources.run_id}/template-nginx:cold"
    timed_build(RECIPES[Variant.TEMPLATE], pristine, tag, resources, target="nginx")
    return tag
