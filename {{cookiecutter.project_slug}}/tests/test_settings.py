"""Production settings, exercised the way a container runs them: a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-for-the-test-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "{{ cookiecutter.domain_name }}",
    "DATABASE_URL": "sqlite:////tmp/prod-settings-test.sqlite3",
}
DEPLOY_CHECK = ("check", "--deploy", "--fail-level", "WARNING")


def manage(*args, **env_changes):
    env = {**os.environ, **PROD_ENV, **env_changes}
    env = {name: value for name, value in env.items() if value is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deployment_checklist():
    result = manage(*DEPLOY_CHECK)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(variable):
    result = manage("check", **{variable: None})
    assert result.returncode != 0
    assert result.stderr.strip() == f"Configuration error: Set the {variable} environment variable"


@pytest.mark.parametrize(
    "url", ["not-a-url", "postgres://user:p4ssw0rd@db:port/name", "foo://user:p4ssw0rd@db/name", ""]
)
def test_production_refuses_a_malformed_database_url_without_showing_it(url):
    result = manage("check", DATABASE_URL=url)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Configuration error: DATABASE_URL is not a database URL"
        " like postgres://USER:PASSWORD@HOST:5432/NAME"
    )


def test_production_refuses_debug_mode():
    result = manage("check", DJANGO_DEBUG="true")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "DJANGO_DEBUG" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "ture", "2"])
def test_production_refuses_a_yes_or_no_variable_that_is_neither(value):
    result = manage("check", DJANGO_DEBUG=value)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"Configuration error: DJANGO_DEBUG is '{value}', not true or false"
    )


def test_secrets_can_come_from_files(tmp_path):
    """Docker and Kubernetes secrets arrive as files: NAME_FILE points at one."""
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(PROD_ENV["DJANGO_SECRET_KEY"])
    result = manage(*DEPLOY_CHECK, DJANGO_SECRET_KEY=None, DJANGO_SECRET_KEY_FILE=str(secret_file))
    assert result.returncode == 0, result.stderr


def test_database_can_be_described_by_the_postgres_variables(tmp_path):
    """The Swarm stack gives Postgres and the app one password secret: POSTGRES_PASSWORD_FILE."""
    password_file = tmp_path / "postgres_password"
    password_file.write_text("from-a-secret\n")
    show = "from django.db import connection as c; print(c.settings_dict['HOST'], c.settings_dict['PASSWORD'])"
    result = manage(
        "shell", "--no-imports", "--command", show,
        DATABASE_URL=None, POSTGRES_HOST="db", POSTGRES_PASSWORD_FILE=str(password_file),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db", "from-a-secret"]


@pytest.mark.parametrize(
    ("variables", "line"),
    [
        ({"EMAIL_URL": "bogus://user:secret@mail"}, "EMAIL_URL is not an email URL"),
        ({"CACHE_URL": "redis-cluster://secret@cache"}, "CACHE_URL is not a cache URL"),
        ({"DJANGO_LOG_FORMAT": "xml"}, "DJANGO_LOG_FORMAT is 'xml', not json or plain"),
        ({"DJANGO_ADMIN_URL": "/admin"}, "DJANGO_ADMIN_URL must be a path like admin-2f9c/"),
        (
            {"AWS_STORAGE_BUCKET_NAME": "uploads", "AWS_ACCESS_KEY_ID": "id"},
            "AWS_SECRET_ACCESS_KEY is not set; AWS_STORAGE_BUCKET_NAME needs it",
        ),
    ],
)
def test_production_refuses_a_misconfiguration_in_one_line(variables, line):
    result = manage("check", **variables)
    assert result.returncode != 0
    assert result.stderr.strip().startswith(f"Configuration error: {line}")
    assert "\n" not in result.stderr.strip()
    assert "secret" not in result.stderr


def test_production_logs_json_lines():
    show = "import logging; logging.getLogger('probe').warning('hello')"
    result = manage("shell", "--no-imports", "--command", show)
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr)
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "probe", "hello")
