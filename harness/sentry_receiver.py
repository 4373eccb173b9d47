"""A stand-in for Sentry's ingest API, for the stack stage: it takes every envelope the
app's sentry-sdk posts (https://develop.sentry.dev/sdk/data-model/envelopes/) and prints it
as one JSON line on stdout, where the test reads it with `docker compose logs`.

Stdlib only, so the plain Python image runs it (harness/compose.sinks.yaml mounts it).
An envelope is newline-separated: a header, then for each item its header and payload.
"""

import gzip
import json
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 9000


def decoded(body, encoding):
    """The body as the SDK sent it before compressing; sentry-sdk gzips unless it finds
    brotli, which stdlib cannot read (say so, rather than drop the envelope)."""
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"cannot read Content-Encoding {encoding}")


def parsed(line):
    try:
        return json.loads(line)
    except ValueError:
        return line.decode(errors="replace")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            items = [
                parsed(line)
                for line in decoded(body, self.headers.get("Content-Encoding", "")).splitlines()
                if line.strip()
            ]
            record = {"path": self.path, "envelope": items}
        except ValueError as error:
            record = {"path": self.path, "error": str(error)}
        print(json.dumps(record), flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self):
        # Its healthcheck.
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        # Only envelopes on stdout: one line each.
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", PORT), Receiver).serve_forever()  # noqa: S104 (its network)
