"""The template's targets, each a ratio against a baseline measured in the same run
(typical's or naive's figure, the irreducible part, the engine floor, its own cold
build), or a count of failures. No absolute time: on a slower machine every figure
slows together, and a target must not flip for that alone."""

from dataclasses import dataclass

from bench.records import Https, Results, Variant
from bench.units import MB, fmt_int


@dataclass(frozen=True)
class Target:
    label: str
    measured: str
    met: bool


def megabytes(size):
    return f"{size / MB:.1f} MB"


def seconds(duration):
    return f"{duration:.2f} s"


def milliseconds(duration):
    return f"{duration:.1f} ms"


def at_most(label, value, limit, reference, reference_name, show):
    """The target `value ≤ limit × reference`, with the ratio measured."""
    measured = f"{show(value)} = {value / reference:.2f} × {reference_name} {show(reference)}"
    return Target(label, measured, value <= limit * reference)


def at_least(label, value, limit, reference, reference_name, show):
    """The target `value ≥ limit × reference`, with the ratio measured."""
    measured = f"{show(value)} = {value / reference:.2f} × {reference_name} {show(reference)}"
    return Target(label, measured, value >= limit * reference)


def none_failed(label, failed, total=None):
    measured = fmt_int(failed) if total is None else f"{failed} of {total}"
    return Target(label, measured, failed == 0)


def targets(results: Results):
    """The targets for the template, in the order RESULTS.md lists them."""
    template = results.variants[Variant.TEMPLATE]
    typical = results.variants[Variant.TYPICAL]
    naive = results.variants[Variant.NAIVE]
    stack, typical_stack = results.stacks[Variant.TEMPLATE], results.stacks[Variant.TYPICAL]
    floor = results.floor
    rows = [
        at_most("bytes over base ≤ 0.4 × typical's", template.size.over_base, 0.4,
                typical.size.over_base, "typical's", megabytes),
        at_most("bytes over base ≤ 1.15 × irreducible", template.size.over_base, 1.15,
                results.irreducible.total, "irreducible", megabytes),
        at_most("cold build ≤ 0.5 × typical's", template.builds.cold, 0.5,
                typical.builds.cold, "typical's", seconds),
        at_most("code-only rebuild ≤ 0.4 × naive's (which reinstalls every dependency)",
                template.builds.code_median, 0.4, naive.builds.code_median, "naive's", seconds),
        at_most("code-only rebuild ≤ 5 % of own cold build", template.builds.code_median,
                0.05, template.builds.cold, "own cold build", seconds),
        at_most("first 200 ≤ 2 × the engine floor", template.first_200, 2, floor.first_200,
                "engine floor", seconds),
    ]  # fmt: skip
    for path, via in stack.wrk_runs().items():
        direct = typical.direct.wrk_runs()[path]
        typical_via = typical_stack.wrk_runs()[path]
        rows += [
            at_least(f"through nginx {path}: req/s ≥ typical direct", via.rps, 1, direct.rps,
                     "typical direct", lambda rps: f"{rps:.0f}"),
            at_most(f"through nginx {path}: p99 ≤ typical's behind the same nginx", via.p99, 1,
                    typical_via.p99, "typical's", milliseconds),
            none_failed(f"through nginx {path}: 0 errors", via.errors),
        ]  # fmt: skip
    for where, stopped in (("direct", template.direct.stop), ("stack web", stack.stop)):
        rows += [
            at_most(f"docker stop under load ≤ 10 × the engine floor ({where})",
                    stopped.seconds, 10, floor.stop, "engine floor", seconds),
            none_failed(f"0 failed in-flight requests ({where})", stopped.in_flight.failed,
                        stopped.in_flight.total),
        ]  # fmt: skip
    return rows + https_targets(results.https)


def https_targets(https: Https):
    """HTTPS against HTTP through the same nginx image, in front of the same web."""
    rows = []
    for path, tls in https.https.items():
        plain = https.http[path]
        rows += [
            at_least(f"HTTPS {path}: keep-alive req/s ≥ 0.85 × HTTP through nginx", tls.rps,
                     0.85, plain.rps, "HTTP", lambda rps: f"{rps:.0f}"),
            at_most(f"HTTPS {path}: p99 ≤ 1.2 × HTTP's through nginx", tls.p99, 1.2, plain.p99,
                    "HTTP's", milliseconds),
            none_failed(f"HTTPS {path}: 0 errors", tls.errors),
        ]  # fmt: skip
    shakes = https.handshakes
    return rows + [
        at_least("new TLS connections/s: resumed ≥ 1 × full handshakes",
                 shakes.resumed_per_second, 1, shakes.full_per_second, "full",
                 lambda rate: f"{rate:.0f}/s"),
        none_failed("TLS sessions offered again: 0 answered with a full handshake",
                    shakes.not_resumed, shakes.resumed),
    ]  # fmt: skip
