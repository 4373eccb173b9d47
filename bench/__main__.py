"""Benchmark the baked template's image and stack against two baseline Dockerfiles.

    python -m bench                       # the full run (about 5 minutes on 2 cores)
    python -m bench --duration 3 --startup-runs 2 --code-rebuilds 1   # a quick look
    python -m bench --only https          # HTTPS vs HTTP through nginx alone, writes nothing

One run bakes the template with its default answers, builds three runtime images of the
same baked code on the same base image (the template's own Dockerfile, and the two
baselines in bench/baselines/), then measures them side by side: image size, build times,
time to the first answer, throughput and latency (wrk), memory, and `docker stop` under
load. The template, and typical in its place, are also measured behind nginx in the
template's compose.prod.yaml stack, and the template's stack over HTTPS against HTTP.

The tables go to stdout, progress to stderr; bench/RESULTS.md, the charts in
bench/charts/ and the figures in docs/multi-stage.md are rewritten. It is a benchmark, not
a test: numbers never fail it; only a real error (a build that breaks, a container that
never answers) exits non-zero. Everything it creates in Docker is named bench-<run id>-…
and removed at the end, error or not. Method: bench/README.md.
"""

import argparse
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import builds, https, serving, sizes, startup
from bench.host import log, machine, minutes_so_far, preflight
from bench.records import Measured, Results, Settings, Variant
from bench.report import https_text, publish
from bench.resources import Resources
from harness.template import TEMPLATE

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
CHARTS = BENCH / "charts"
LESSON = TEMPLATE / "docs" / "multi-stage.md"


def parse_args():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run (15)")
    parser.add_argument("--startup-runs", type=int, default=5, help="first-200 runs (5)")
    parser.add_argument("--code-rebuilds", type=int, default=3, help="code-only rebuilds (3)")
    parser.add_argument(
        "--no-prune",
        dest="prune",
        action="store_false",
        help="cold builds with --no-cache instead of emptying the engine's build cache: safe "
        "beside other builds, but cache mounts stay warm, so 'cold' is an underestimate",
    )
    parser.add_argument(
        "--only",
        choices=["https"],
        help="one part alone, on images built from the warm cache (never pruned); prints "
        "its figures and targets and rewrites nothing",
    )
    return parser.parse_args()


def measure(settings, resources, workdir):
    """Every figure of one run."""
    preflight()
    info = machine()
    log(f"run {resources.run_id}: baking the template with its default answers")
    pristine = builds.bake(workdir)
    log(f"dependency change: adding {builds.EXTRA_DEPENDENCY} and re-locking with uv")
    dependency_files = builds.dependency_change(pristine, workdir)

    built, images = {}, {}
    for variant in Variant:
        built[variant], images[variant] = builds.measure_builds(
            variant, pristine, dependency_files, workdir, resources, settings
        )
        if variant is Variant.TEMPLATE:
            proxy = builds.build_proxy(pristine, resources)
    image_sizes, irreducible = sizes.measure_sizes(images, resources)

    network = resources.network()
    password = secrets.token_urlsafe(16)
    app_env = serving.app_environment(password)
    log("Postgres for the direct runs, migrated once with the template image")
    serving.start_database(resources, network, password)
    migrate = ("python", "manage.py", "migrate", "--noinput")
    resources.run_once(images[Variant.TEMPLATE], *migrate, env=app_env, network=network)
    log("engine floors: docker run and docker stop with no app")
    floor = startup.engine_floor(resources, network, settings.startup_runs)

    measured = {}
    for variant, image in images.items():
        log(f"{variant}: first 200 after docker run, {settings.startup_runs} runs")
        starts = startup.starts(variant, image, resources, network, app_env, settings.startup_runs)
        direct = serving.measure_direct(
            variant, image, resources, network, app_env, settings.duration
        )
        measured[variant] = Measured(built[variant], image_sizes[variant], starts, direct)

    # The template behind its nginx; and typical's image in its place, so the cost of the
    # proxy itself shows apart from the app server behind it.
    stacks = {
        variant: serving.measure_stack(
            variant, images[variant], pristine, proxy, resources, settings.duration
        )
        for variant in (Variant.TEMPLATE, Variant.TYPICAL)
    }
    tls = https.measure_https(
        images[Variant.TEMPLATE], pristine, proxy, resources, settings.duration, workdir
    )
    return Results(info, settings, minutes_so_far(), measured, stacks, irreducible, floor, tls)


def measure_https_only(settings, resources, workdir):
    """HTTPS against HTTP through nginx, on the template's images built from the cache."""
    preflight()
    log(f"run {resources.run_id}: baking the template with its default answers")
    pristine = builds.bake(workdir)
    image = f"{resources.run_id}/template:https"
    log("the template's runtime and nginx images (builder cache kept)")
    builds.timed_build(builds.RECIPES[Variant.TEMPLATE], pristine, image, resources)
    proxy = builds.build_proxy(pristine, resources)
    return https.measure_https(image, pristine, proxy, resources, settings.duration, workdir)


def main():
    args = parse_args()
    settings = Settings(args.duration, args.startup_runs, args.code_rebuilds, args.prune)
    # `docker stop`/Ctrl-C/SIGTERM: leave through the finally below, which cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    resources = Resources()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        if args.only == "https":
            print(https_text(measure_https_only(settings, resources, workdir)))
            return 0
        results = measure(settings, resources, workdir)
        print(publish(results, RESULTS, CHARTS, LESSON))
        return 0
    except (RuntimeError, AssertionError, subprocess.TimeoutExpired) as error:
        log(f"benchmark failed: {error}")
        return 1
    finally:
        log("cleaning up")
        resources.release()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
