"""New TLS connections per second: run inside nginx's network namespace (like wrk), by
`python -m bench.handshakes PORT NAME SECONDS CLIENTS`; prints one JSON object.

Each connection: TCP connect to 127.0.0.1:PORT, a TLS handshake asking for NAME (SNI), one
request nginx answers itself (`GET /metrics`: 404 from nginx, nothing proxied), read to
the close, close. First `SECONDS` of full handshakes (no session offered), then `SECONDS`
of resumed ones: each offers the session of the client's previous connection. With TLS
1.3 a client has that session only once it has read past the handshake (the server's
NewSessionTicket), hence the request. `CLIENTS` processes run side by side.
Standard library only: it runs from the bench's interpreter under `nsenter --net`.
"""

import json
import multiprocessing
import socket
import ssl
import sys
import time

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
ANSWER = b"HTTP/1.1 404 "  # nginx's own answer for /metrics (app.conf)


def client_context():
    """No verification in the loop: the bench checks the certificate once beforehand
    against the run's CA; the figure is the server's handshakes, not the client's checks."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connection(port, name, context, session=None):
    """One new connection and its one exchange: (session, resumed, TLS version)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with raw, context.wrap_socket(raw, server_hostname=name, session=session) as tls:
        tls.sendall(REQUEST % name.encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        if not answer.startswith(ANSWER):
            raise RuntimeError(f"unexpected answer from nginx: {answer[:200]!r}")
        return tls.session, tls.session_reused, tls.version()


def loop(port, name, seconds, resume):
    """Connections one after another for `seconds`: (handshakes, not resumed, version)."""
    context = client_context()
    session, _, version = connection(port, name, context)  # not counted: the first session
    count = not_resumed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        session, reused, version = connection(port, name, context, session if resume else None)
        count += 1
        not_resumed += resume and not reused
    return count, not_resumed, version


def measure(port, name, seconds, clients):
    figures = {"seconds": seconds, "clients": clients}
    with multiprocessing.Pool(clients) as pool:
        for kind, resume in (("full", False), ("resumed", True)):
            runs = pool.starmap(loop, [(port, name, seconds, resume)] * clients)
            figures[kind] = sum(count for count, _, _ in runs)
            if resume:
                figures["not_resumed"] = sum(not_resumed for _, not_resumed, _ in runs)
            figures["version"] = runs[0][2]
    return figures


if __name__ == "__main__":
    port, name, seconds, clients = sys.argv[1:]
    print(json.dumps(measure(int(port), name, float(seconds), int(clients))))
