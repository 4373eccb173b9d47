"""What a run measures, as typed records: one per figure family, one `Results` per run."""

import statistics
from dataclasses import dataclass
from enum import StrEnum


class Variant(StrEnum):
    """The three images compared, in the order the tables show them."""

    TEMPLATE = "template"
    TYPICAL = "typical"
    NAIVE = "naive"


def median(values):
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Builds:
    """Wall-clock seconds of `docker buildx build --load`."""

    cold: float  # after `docker builder prune -af`
    unchanged: float  # nothing changed: every step cached
    code: list[float]  # one line appended to a module, each build
    dependency: float  # one dependency added and re-locked
    code_steps: list[str]  # the Dockerfile steps a code-only rebuild ran (not cached)
    dependency_steps: list[str]  # and those the dependency-change rebuild ran

    @property
    def code_median(self):
        return median(self.code)


@dataclass(frozen=True)
class Layer:
    size: int
    instruction: str


@dataclass(frozen=True)
class Size:
    image: int  # `docker image inspect -f {{.Size}}`
    over_base: int
    layers: list[Layer]  # those over 100 kB, oldest first


@dataclass(frozen=True)
class Irreducible:
    """The app as installed, untrimmed: what no Dockerfile can leave out and still run it."""

    dependencies: int  # the locked set as pip installs it, bytecode included
    app: int  # /app of the template's image: code, bytecode, static files
    static: int  # of which collected static files
    shipped_venv: int  # the template's venv as trimmed by its Dockerfile

    @property
    def total(self):
        return self.dependencies + self.app


@dataclass(frozen=True)
class Wrk:
    """One wrk run: requests/s, latency (ms), and every error by kind."""

    rps: float
    p50: float
    p99: float
    requests: int
    error_kinds: dict[str, int]  # connect, read, write, timeout, non_200

    @property
    def eof_delimited(self):
        """wrk counts a response that ends when the server closes the connection (no
        Content-Length) as a completed request *and* as a read error. Exactly one read
        error per completed request is that: the responses arrived whole."""
        return self.requests > 0 and self.error_kinds["read"] == self.requests

    @property
    def errors(self):
        """Failures only: read errors that are EOF-delimited complete responses are not."""
        ignored = self.error_kinds["read"] if self.eof_delimited else 0
        return sum(self.error_kinds.values()) - ignored


@dataclass(frozen=True)
class Start:
    """One fresh container, in seconds from starting `docker run`."""

    first_200: float
    run_returned: float  # when `docker run --detach` itself returned
    app_boot: float  # from the container's State.StartedAt to the first 200


@dataclass(frozen=True)
class Tally:
    total: int
    failed: int
    kinds: dict[str, int]  # failed outcome → count


@dataclass(frozen=True)
class Stop:
    """`docker stop` under load, and what happened to the requests around it."""

    seconds: float
    before: Tally  # ended before the stop began
    in_flight: Tally  # started before it, ended after: must not fail for a clean drain
    after: Tally  # sent after it began: nothing is left to accept them


@dataclass(frozen=True)
class Serving:
    """An image under load, direct or behind nginx: wrk, the web container's memory
    (bytes), and `docker stop` under load."""

    health: Wrk
    home: Wrk
    memory_idle: float
    memory_load: float
    stop: Stop

    def wrk_runs(self):
        return {"/health/": self.health, "/": self.home}


@dataclass(frozen=True)
class Handshakes:
    """New TLS connections to nginx, one after another from `clients` processes for
    `seconds`: each a handshake, one request nginx answers itself, and close."""

    full: int  # handshakes with no session offered
    resumed: int  # handshakes offering the session of the client's previous connection
    not_resumed: int  # of those, the ones the server answered with a full handshake
    seconds: float
    clients: int
    version: str  # the TLS version negotiated

    @property
    def full_per_second(self):
        return self.full / self.seconds

    @property
    def resumed_per_second(self):
        return self.resumed / self.seconds


@dataclass(frozen=True)
class Https:
    """The template's stack, HTTP through nginx (TLS_MODE=off, behind a load balancer that
    says https) against HTTPS through the same nginx image (TLS_MODE=files), same web."""

    http: dict[str, Wrk]  # path → run
    https: dict[str, Wrk]
    handshakes: Handshakes


@dataclass(frozen=True)
class Floor:
    """What the engine itself costs with no app: no image starts or stops faster."""

    first_200: float  # `python -m http.server` in the base image
    run_returned: float
    stop: float  # a process that exits at once on SIGTERM


@dataclass(frozen=True)
class Measured:
    """Everything measured of one variant's image."""

    builds: Builds
    size: Size
    starts: list[Start]
    direct: Serving

    @property
    def first_200(self):
        return median([start.first_200 for start in self.starts])


@dataclass(frozen=True)
class Settings:
    duration: int  # seconds per wrk run
    startup_runs: int
    code_rebuilds: int
    prune: bool = True  # cold builds after emptying the builder cache, or only --no-cache


@dataclass(frozen=True)
class Results:
    machine: dict[str, str]  # what it ran on, label → description
    settings: Settings
    minutes: float
    variants: dict[Variant, Measured]
    stacks: dict[Variant, Serving]  # behind the template's nginx: template and typical
    irreducible: Irreducible
    floor: Floor
    https: Https
