"""A web container's memory as `docker stats` shows it (cgroup usage minus inactive file
cache): at idle, and the peak while under load."""

import re
import threading
import time
from pathlib import Path

from bench.records import median
from harness import engine

MIB = 1024 * 1024


class Memory:
    """Read straight from the container's cgroup, so it can be sampled every 200 ms."""

    def __init__(self, container):
        self.container = container
        cid = engine.docker("inspect", "--format", "{{.Id}}", container).stdout.strip()
        candidates = [
            Path("/sys/fs/cgroup/memory/docker", cid),  # cgroup v1, cgroupfs driver
            Path("/sys/fs/cgroup/docker", cid),  # cgroup v2, cgroupfs driver
            Path("/sys/fs/cgroup/system.slice", f"docker-{cid}.scope"),  # v2, systemd
        ]
        self.cgroup = next((path for path in candidates if path.is_dir()), None)

    def sample(self):
        if self.cgroup is None:  # no cgroup files to read: ask the engine (slower)
            usage = engine.docker(
                "stats", "--no-stream", "--format", "{{.MemUsage}}", self.container
            ).stdout
            value, unit = re.match(r"([\d.]+)\s*([KMG]?i?B)", usage).groups()
            return float(value) * {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB}[unit]
        stat = dict(line.split() for line in (self.cgroup / "memory.stat").read_text().splitlines())
        if (self.cgroup / "memory.usage_in_bytes").exists():
            usage = int((self.cgroup / "memory.usage_in_bytes").read_text())
            return usage - int(stat.get("total_inactive_file", 0))
        usage = int((self.cgroup / "memory.current").read_text())
        return usage - int(stat.get("inactive_file", 0))

    def idle(self, settle=3.0):
        """Median of five samples once the container has sat idle for `settle` seconds."""
        time.sleep(settle)
        samples = []
        for _ in range(5):
            samples.append(self.sample())
            time.sleep(0.2)
        return median(samples)


class PeakMemory:
    """Samples a container's memory in the background; `peak` is the largest sample."""

    def __init__(self, memory, interval=0.2):
        self.memory, self.interval, self.peak = memory, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, self.memory.sample())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
