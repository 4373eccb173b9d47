"""Headless Chromium for the stack and tls stages."""

# Debian's Chromium, kept off the network it cannot reach (env docs: machines/python.md).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
