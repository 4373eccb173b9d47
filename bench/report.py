"""The report: the side-by-side tables and targets on stdout, RESULTS.md with the machine
and the details behind each figure, and the figures table inside the lesson."""

import os
import re
from pathlib import Path

from bench.charts import write_charts
from bench.records import Https, Results, Serving, Stop, Variant, Wrk
from bench.targets import https_targets, targets
from bench.units import (
    MB,
    fmt_int,
    fmt_mb,
    fmt_mib,
    fmt_ms,
    fmt_rps,
    fmt_seconds,
    render_markdown,
    render_text,
    table,
)

LESSON_START, LESSON_END = "<!-- bench:figures -->", "<!-- /bench:figures -->"


def wrk_rows(prefix, runs, rate="req/s"):
    """wrk runs side by side, a row per figure: rate, median and tail latency, errors."""
    return [
        (f"{prefix} {rate}", [run.rps for run in runs], fmt_rps),
        (f"{prefix} p50 (ms)", [run.p50 for run in runs], fmt_ms),
        (f"{prefix} p99 (ms)", [run.p99 for run in runs], fmt_ms),
        (f"{prefix} errors", [run.errors for run in runs], fmt_int),
    ]


def comparison_rows(results: Results):
    """(figure, values, formatter): one row per figure, one value per variant."""
    measured = list(results.variants.values())

    def each(figure):
        return [figure(variant) for variant in measured]

    rows = [
        ("image size (MB)", each(lambda v: v.size.image), fmt_mb),
        ("bytes over base image (MB)", each(lambda v: v.size.over_base), fmt_mb),
        ("cold build (s)", each(lambda v: v.builds.cold), fmt_seconds),
        ("rebuild with nothing changed (s)", each(lambda v: v.builds.unchanged), fmt_seconds),
        ("code-only rebuild (s, median)", each(lambda v: v.builds.code_median), fmt_seconds),
        ("dependency-change rebuild (s)", each(lambda v: v.builds.dependency), fmt_seconds),
        ("docker run → first 200 (s, median)", each(lambda v: v.first_200), fmt_seconds),
    ]
    for label, path in (("/health/", "/health/"), ("/ (home)", "/")):
        rows += wrk_rows(f"{label} direct:", [v.direct.wrk_runs()[path] for v in measured])
    stops = [variant.direct.stop for variant in measured]
    rows += [
        ("memory idle (MiB)", each(lambda v: v.direct.memory_idle), fmt_mib),
        ("memory under load (MiB, peak)", each(lambda v: v.direct.memory_load), fmt_mib),
        ("docker stop under load (s)", [stop.seconds for stop in stops], fmt_seconds),
        ("failed in-flight requests", [stop.in_flight.failed for stop in stops], fmt_int),
        ("  (requests in flight at stop)", [stop.in_flight.total for stop in stops], fmt_int),
        ("failed requests sent after stop began", [s.after.failed for s in stops], fmt_int),
        ("  (requests sent after stop began)", [s.after.total for s in stops], fmt_int),
    ]
    return rows


def nginx_rows(results: Results):
    """The template and typical behind nginx, next to each image direct to its app server."""
    servings = [*results.stacks.values(), *(v.direct for v in results.variants.values())]
    rows = []
    for label, path in (("/health/", "/health/"), ("/ (home)", "/")):
        rows += wrk_rows(label, [serving.wrk_runs()[path] for serving in servings])
    return rows + [
        ("web memory idle (MiB)", [s.memory_idle for s in servings], fmt_mib),
        ("web memory under load (MiB, peak)", [s.memory_load for s in servings], fmt_mib),
        ("docker stop web under load (s)", [s.stop.seconds for s in servings], fmt_seconds),
        ("failed in-flight requests", [s.stop.in_flight.failed for s in servings], fmt_int),
    ]


def main_table(results):
    names = [str(variant) for variant in results.variants]
    header = ["figure", *names, "template/typical", "template/naive"]
    return table(header, comparison_rows(results), ratio_columns=[1, 2])


def nginx_table(results):
    names = [str(variant) for variant in results.variants]
    header = [
        "behind nginx vs direct",
        *[f"{variant} via nginx" for variant in results.stacks],
        *[f"{name} direct" for name in names],
        "template nginx/typical nginx",
        "template nginx/typical direct",
    ]
    return table(header, nginx_rows(results), ratio_columns=[1, 3])


def https_table(https: Https):
    """HTTPS (TLS_MODE=files) against HTTP (TLS_MODE=off) through the template's nginx."""
    rows = []
    for label, path in (("/health/", "/health/"), ("/ (home)", "/")):
        rows += wrk_rows(label, [https.https[path], https.http[path]], rate="keep-alive req/s")
    header = ["template through nginx", "HTTPS", "HTTP", "HTTPS/HTTP"]
    return table(header, rows, ratio_columns=[1])


def handshakes_line(https: Https):
    shakes = https.handshakes
    return (
        f"new TLS connections to nginx ({shakes.version}, {shakes.clients} client processes, "
        f"{shakes.seconds:g} s each way, each connection one request nginx answers itself): "
        f"full handshakes {shakes.full_per_second:.0f}/s, resumed "
        f"{shakes.resumed_per_second:.0f}/s (resumed/full "
        f"{shakes.resumed_per_second / shakes.full_per_second:.2f}×); "
        f"{shakes.not_resumed} of {shakes.resumed} sessions offered were not resumed"
    )


def target_lines(target_rows):
    width = max(len(target.label) for target in target_rows)
    return [f"{'MET   ' if t.met else 'MISSED'}  {t.label.ljust(width)}  {t.measured}"
            for t in target_rows]  # fmt: skip


def https_text(https: Https):
    """The HTTPS part alone (`python -m bench --only https`): its table and targets."""
    return "\n".join(
        ["", render_text(https_table(https)), "", handshakes_line(https), "",
         *https_details(https), "", *target_lines(https_targets(https))]
    )  # fmt: skip


def https_details(https: Https):
    return [
        f"- {protocol}: "
        + "; ".join(f"wrk {path}: {wrk_summary(run)}" for path, run in runs.items())
        for protocol, runs in (("HTTPS", https.https), ("HTTP", https.http))
    ]


def eof_notes(results):
    """wrk's read errors left out of the error counts, and why."""
    servings = {
        f"{variant} direct": measured.direct for variant, measured in results.variants.items()
    }
    servings |= {f"{variant} via nginx": serving for variant, serving in results.stacks.items()}
    return [
        f"note: {who} {path}: not counted as errors, wrk's {run.error_kinds['read']} read "
        "errors, one per response: each ends at connection close (no Content-Length) and "
        "arrived complete."
        for who, serving in servings.items()
        for path, run in serving.wrk_runs().items()
        if run.eof_delimited
    ]


def irreducible_line(results):
    part = results.irreducible
    over_base = results.variants[Variant.TEMPLATE].size.over_base
    return (
        f"irreducible part: dependencies as installed {fmt_mb(part.dependencies)} MB + app "
        f"{fmt_mb(part.app)} MB (of which static {fmt_mb(part.static)} MB) = "
        f"{fmt_mb(part.total)} MB; template's bytes over base / irreducible = "
        f"{over_base / part.total:.3f} (the template's venv, trimmed: "
        f"{fmt_mb(part.shipped_venv)} MB)"
    )


def floor_line(results):
    floor = results.floor
    return (
        f"engine floor (base image, no app): docker run → first 200 "
        f"{fmt_seconds(floor.first_200)} s (`docker run` itself returned after "
        f"{fmt_seconds(floor.run_returned)} s), docker stop {fmt_seconds(floor.stop)} s"
    )


def text_report(results: Results, written_to):
    """What stdout shows: the tables, the notes, and each target met or missed."""
    return "\n".join([
        "", render_text(main_table(results)), "", render_text(nginx_table(results)), "",
        render_text(https_table(results.https)), "", handshakes_line(results.https), "",
        *eof_notes(results), irreducible_line(results), floor_line(results), "",
        *target_lines(targets(results)),
        f"\ntotal runtime {results.minutes:.1f} min; written to {written_to}",
    ])  # fmt: skip


def wrk_summary(run: Wrk):
    kinds = ", ".join(f"{kind} {n}" for kind, n in run.error_kinds.items() if n)
    note = " (the read errors: EOF-delimited complete responses, see README)"
    return f"{run.requests} requests, errors: {kinds or 'none'}{note if run.eof_delimited else ''}"


def stop_summary(stop: Stop):
    parts = []
    for tally, label in (
        (stop.before, "before the stop"),
        (stop.in_flight, "in flight at the stop"),
        (stop.after, "sent after the stop began"),
    ):
        kinds = ", ".join(f"{kind}: {n}" for kind, n in tally.kinds.items())
        kinds = f" ({kinds})" if kinds else ""
        parts.append(f"{label} {tally.total - tally.failed}/{tally.total} ok{kinds}")
    return f"{stop.seconds:.2f} s; " + "; ".join(parts)


def steps(ran):
    """A rebuild after a change always runs a step: none listed means none recorded."""
    return "; ".join(f"`{step}`" for step in ran) or "(not recorded)"


def rebuild_steps(results: Results):
    """Per variant, the steps BuildKit ran (not from its cache) on each kind of change."""
    rows = ["| | on a code change | on a dependency change |", "|---|---|---|"]
    for variant, measured in results.variants.items():
        builds = measured.builds
        rows.append(
            f"| {variant} | {steps(builds.code_steps)} | {steps(builds.dependency_steps)} |"
        )
    return "\n".join(rows)


def serving_details(serving: Serving, stop_label):
    return [
        f"- wrk /health/: {wrk_summary(serving.health)}; wrk /: {wrk_summary(serving.home)}",
        f"- {stop_label}: {stop_summary(serving.stop)}",
    ]


def results_markdown(results: Results):
    settings = results.settings
    md = [
        "# Benchmark results",
        "",
        "Produced by `python -m bench` (method: [README.md](README.md)); every figure in "
        "one run, on the same baked code and the same base image. Charts: [charts/](charts/).",
        "",
        *[f"- **{key}**: {value}" for key, value in results.machine.items()],
        f"- **settings**: wrk {settings.duration} s per run, first-200 median of "
        f"{settings.startup_runs} runs, code-only rebuild median of {settings.code_rebuilds}"
        + ("" if settings.prune else "; **cold builds with --no-cache only** (cache mounts "
           "warm: not cold; see `--no-prune` in README.md)"),
        f"- **total runtime**: {results.minutes:.1f} min",
        "",
        "Stand-in images (see tests/standins/): sizes differ from Docker Hub's, ratios are "
        "what matters. MB = 10⁶ bytes, MiB = 2²⁰ bytes. Direct runs: each image alone on a "
        "user-defined network with one Postgres 17; requests carry `Host: example.com` and "
        "`X-Forwarded-Proto: https` (prod settings, HTTPS redirect on).",
        "",
        "## Side by side",
        "",
        render_markdown(main_table(results)),
        "",
        "## Behind nginx (compose.prod.yaml, the template's nginx), next to each image direct",
        "",
        render_markdown(nginx_table(results)),
        "",
        *[f"{note}\n" for note in eof_notes(results)],
        "## HTTPS against HTTP through nginx (the template's stack)",
        "",
        "The same app and nginx images, the same web container and the same wrk settings: "
        "nginx first with `TLS_MODE=off` (plain HTTP to its port 80, requests carrying "
        "`X-Forwarded-Proto: https` from a trusted address, as a load balancer ending TLS "
        "sends them), then recreated with `TLS_MODE=files` and a certificate for "
        "`localhost` made for the run (wrk to `https://localhost:443`, SNI `localhost`, "
        "TLS as the template configures it). Both with `Host: localhost`; wrk keeps its "
        "connections alive, so a run has one handshake per connection.",
        "",
        render_markdown(https_table(results.https)),
        "",
        handshakes_line(results.https) + ": connect, handshake, `GET /metrics` (nginx's "
        "own 404), close, one after another per process; resumed: each offering the "
        "session of its process's previous connection (nginx's shared session cache, "
        "tickets off). No certificate check in that loop; the certificate was verified "
        "against the run's CA once before.",
        "",
        "## Irreducible part",
        "",
        irreducible_line(results) + ".",
        "",
        "## Engine floor",
        "",
        floor_line(results) + ": `python -m http.server` in the base image for the first, a "
        "process that exits at once on SIGTERM for the second. No image starts or stops "
        "faster here.",
        "",
        "## Targets (template)",
        "",
        "Each a ratio against a figure of this same run, or a count of failures.",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *[f"| {t.label} | {t.measured} | {'met' if t.met else '**missed**'} |"
          for t in targets(results)],
        "",
        "## Details",
        "",
    ]  # fmt: skip
    for variant, measured in results.variants.items():
        starts = measured.starts
        md += [
            f"### {variant}",
            "",
            "- code-only rebuilds (s): " + ", ".join(map(fmt_seconds, measured.builds.code)),
            f"- steps a code-only rebuild ran: {steps(measured.builds.code_steps)}",
            f"- steps the dependency-change rebuild ran: {steps(measured.builds.dependency_steps)}",
            "- docker run → first 200 (s): "
            + ", ".join(fmt_seconds(s.first_200) for s in starts)
            + "; `docker run` returned after (s): "
            + ", ".join(fmt_seconds(s.run_returned) for s in starts)
            + "; container start → first 200 (s): "
            + ", ".join(fmt_seconds(s.app_boot) for s in starts),
            *serving_details(measured.direct, "docker stop"),
            "- layers over 100 kB (bytes, instruction):",
            *[f"  - {layer.size / MB:.1f} MB `{layer.instruction}`"
              for layer in measured.size.layers],
            "",
        ]  # fmt: skip
    for variant, serving in results.stacks.items():
        md += [f"### {variant} via nginx", "", *serving_details(serving, "docker stop web"), ""]
    md += ["### template through nginx, HTTPS and HTTP", "", *https_details(results.https)]
    return "\n".join([*md, ""])


def lesson_figures(results: Results, charts):
    """The lesson's figures: what a multi-stage build changes, side by side, and its charts
    (paths relative to the lesson)."""
    wanted = {
        "bytes over base image (MB)",
        "cold build (s)",
        "code-only rebuild (s, median)",
        "dependency-change rebuild (s)",
        "docker run → first 200 (s, median)",
        "memory idle (MiB)",
        "memory under load (MiB, peak)",
    }
    rows = main_table(results)
    return "\n".join([
        f"From the run of {results.machine.get('date', 'an unknown date')} on "
        f"{results.machine.get('cpu', 'an unknown machine')} "
        "([all its figures](../bench/RESULTS.md))"
        + ("" if results.settings.prune else ", with `--no-prune`: its cold builds are not cold")
        + ":",
        "",
        render_markdown([rows[0], *[row for row in rows[1:] if row[0] in wanted]]),
        "",
        "The steps each rebuild ran, every other one taken from the cache:",
        "",
        rebuild_steps(results),
        "",
        *[f"![{title}]({path})" for title, path in charts.items()],
    ])  # fmt: skip


def replace_between_markers(text, block):
    pattern = re.compile(re.escape(LESSON_START) + ".*?" + re.escape(LESSON_END), re.S)
    if not pattern.search(text):
        raise RuntimeError(f"no {LESSON_START} … {LESSON_END} block in the lesson")
    return pattern.sub(lambda _: f"{LESSON_START}\n{block}\n{LESSON_END}", text, count=1)


def write_lesson_figures(lesson: Path, results: Results, charts):
    lesson.write_text(replace_between_markers(lesson.read_text(), lesson_figures(results, charts)))


def publish(results: Results, results_md: Path, charts: Path, lesson: Path):
    """Write RESULTS.md, the charts, and the lesson's figures; return the text report."""
    results_md.write_text(results_markdown(results))
    written = write_charts(results, charts)
    relative = {title: os.path.relpath(path, lesson.parent) for title, path in written.items()}
    write_lesson_figures(lesson, results, relative)
    return text_report(results, results_md)
