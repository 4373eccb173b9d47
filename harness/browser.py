"""Headless Chromium for the stack and tls stages, and logging into the admin with it."""

import os
import subprocess
from contextlib import contextmanager

# Debian's Chromium, kept off the network it cannot reach (env docs: machines/python.md).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium_trusting(root_pem, home, site_name):
    """Chromium that trusts `root_pem` (a CA's PEM bytes) and finds `site_name` on this
    host, so an HTTPS site on a published loopback port is reached under its own name and
    verified as a user's browser would. The root goes into an NSS database of its own, in
    `home` (a fresh directory): nothing of the host's is changed."""
    from playwright.sync_api import sync_playwright

    nssdb = home / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    root = home / "root.pem"
    root.write_bytes(root_pem)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "test-root", "-t", "C,,",
                    "-i", str(root)], check=True)  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, env={**os.environ, "HOME": str(home)},
            args=[*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {site_name} 127.0.0.1"],
        )  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()


def logged_in_to_admin(browser, origin, admin, username, password):
    """A page of the admin at `origin` + `admin` (the bake's DJANGO_ADMIN_URL), logged in
    as `username`: the login form filled in as a person does."""
    page = browser.new_page()
    page.goto(origin + admin + "login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url == origin + admin, page.inner_text("body")[:500]
    return page
