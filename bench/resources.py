"""What a run creates in Docker, each with the command that removes it, and short-lived
containers that are removed as soon as they have answered."""

import uuid
from collections.abc import Callable

from bench.host import log
from harness import engine


class Resources:
    """Every container, network, image tag and compose project this run creates, each with
    the command that removes it. `release` undoes them all, newest first, error or not."""

    def __init__(self):
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        self._undo: dict[str, Callable[[], object]] = {}

    def name(self, suffix):
        return f"{self.run_id}-{suffix}"

    def add(self, key, undo):
        self._undo[key] = undo
        return key

    def container(self, name):
        return self.add(
            name, lambda: engine.docker("rm", "--force", "--volumes", name, check=False)
        )

    def image(self, tag):
        return self.add(tag, lambda: engine.docker("rmi", "--force", tag, check=False))

    def network(self):
        """A user-defined network of this run's name."""
        name = self.name("net")
        self.add(name, lambda: engine.docker("network", "rm", name, check=False))
        engine.docker("network", "create", name)
        return name

    def drop(self, key):
        """Undo one thing now (a finished probe container, a rebuilt image)."""
        self._undo.pop(key)()

    def release(self):
        for key in reversed(list(self._undo)):
            try:
                self._undo.pop(key)()
            except Exception as error:  # keep cleaning up whatever else there is
                log(f"cleanup of {key} failed: {error}")

    def run_once(self, image, *command, env=None, network="none"):
        """A short-lived container (named, so an interrupted run still removes it)."""
        name = self.container(self.name(f"once-{uuid.uuid4().hex[:6]}"))
        env_args = [f"--env={key}={value}" for key, value in (env or {}).items()]
        try:
            return engine.docker(
                "run",
                f"--name={name}",
                f"--network={network}",
                *env_args,
                image,
                *command,
                timeout=300,
            ).stdout
        finally:
            self.drop(name)
