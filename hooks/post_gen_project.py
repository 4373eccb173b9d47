"""Finish the baked project: per-project secrets into .env, drop files of disabled options,
record which template commit it came from.

Runs offline: no network, no Docker; git only to read the template's commit.
"""

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.repository import expand_abbreviations, is_repo_url

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
    "use_kubernetes": ["deploy/k8s", "docker/backup/kustomization.yaml"],
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


def bake_context():
    """Everything cookiecutter knows of this bake: the answers, and where the template came
    from."""
    return json.loads(r"""{{ cookiecutter | jsonify }}""")


def template_source(context):
    """The template's git URL or absolute path, and its commit; None when it is not a git
    checkout (a zip, a copied folder): `cruft link` records one later."""
    template = context["_template"]
    if context.get("_commit"):  # baked by cruft, which says both
        return template, context["_commit"]
    if is_repo_url(expand_abbreviations(template, BUILTIN_ABBREVIATIONS)):
        template = expand_abbreviations(template, BUILTIN_ABBREVIATIONS)
    else:  # a local folder, maybe relative to where cookiecutter was started
        template = str(Path(os.environ.get("PWD", ""), template).resolve())
    head = subprocess.run(
        ["git", "-C", context["_repo_dir"], "rev-parse", "HEAD"],
        cwd=os.environ.get("PWD"),
        capture_output=True,
        text=True,
    )
    return (template, head.stdout.strip()) if head.returncode == 0 else None


def write_template_record(project):
    """.cruft.json, as cruft writes it: the template and commit this project was baked
    from, and the answers, so `just update-template` can bring in later template changes."""
    context = bake_context()
    source = template_source(context)
    if source is None:
        return
    template, commit = source
    answers = {name: value for name, value in context.items() if not name.startswith("_")}
    record = {
        "template": template,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": {**answers, "_template": template, "_commit": commit}},
        "directory": None,
    }
    (project / ".cruft.json").write_text(json.dumps(record, indent=2) + "\n")


def main():
    project = Path.cwd()
    write_env_file(project)
    remove_disabled_features(project)
    write_template_record(project)


if __name__ == "__main__":
    main()
