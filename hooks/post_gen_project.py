"""Finish the baked project: per-project secrets into .env, drop files of disabled options.

Runs offline: no network, no Docker, no subprocess.
"""

import os
import secrets
import shutil
from pathlib import Path

ANSWERS = {
    "use_celery": "{{ cookiecutter.use_celery }}",
    "use_sentry": "{{ cookiecutter.use_sentry }}",
    "use_kubernetes": "{{ cookiecutter.use_kubernetes }}",
}
# What each yes/no answer adds to a bake, removed when it is "n". The template's tests read
# this table too (harness/template.py), so it is the one list of optional files.
OPTIONAL_PATHS = {
    "use_celery": [
        "config/celery.py",
        "{{ cookiecutter.project_slug }}/jobs",
        "tests/test_jobs.py",
        "deploy/k8s/base/worker.yaml",
        "deploy/k8s/base/beat.yaml",
    ],
    "use_sentry": ["config/sentry.py", "tests/test_sentry.py"],
    "use_kubernetes": ["deploy/k8s"],
}


def generated_secrets():
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        # Not a secret, but not /admin/ either: bots try that path on every site.
        "DJANGO_ADMIN_URL": f"admin-{secrets.token_hex(8)}/",
    }


def write_env_file(project):
    """.env is .env.example with real secrets. It is git- and docker-ignored: never
    committed, never in an image."""
    values = generated_secrets()
    # The example's opening paragraph speaks to someone copying it; this file is the copy.
    example_body = (project / ".env.example").read_text().split("\n\n", 1)[1]
    lines = ["# Written by cookiecutter with fresh secrets for this checkout; never commit it.", ""]
    for line in example_body.splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    # Owner-only from the moment it exists (O_EXCL: never an existing file, whatever its
    # mode), not chmod-ed after the secrets are in it.
    descriptor = os.open(project / ".env", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        env_file.write("\n".join(lines) + "\n")


def remove_disabled_features(project):
    for option, names in OPTIONAL_PATHS.items():
        if ANSWERS[option] == "y":
            continue
        for name in names:
            path = project / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def main():
    project = Path.cwd()
    write_env_file(project)
    remove_disabled_features(project)


if __name__ == "__main__":
    main()
