"""An HTTP client that takes any answer as an answer, and a poller with a deadline: what
every stage uses to talk to a server it started."""

import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self):
        return self.body.decode()


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


_opener = urllib.request.build_opener(NoRedirects)


def request(url, method="GET", headers=None, data=None, timeout=30):
    """One HTTP exchange, as is: redirects and error statuses are answers, not exceptions."""
    outgoing = urllib.request.Request(url, data, headers or {}, method=method)
    try:
        with _opener.open(outgoing, timeout=timeout) as response:
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read())


def poll(check, deadline, interval=0.05, what="condition"):
    """Call `check` until it returns something truthy; fail after `deadline` seconds."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            outcome = check()
        except (OSError, urllib.error.URLError):
            outcome = None
        if outcome:
            return outcome
        if time.monotonic() > give_up:
            raise AssertionError(f"{what} not met within {deadline} s")
        time.sleep(interval)
