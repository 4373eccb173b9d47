"""Bake stage, the answers: every valid one bakes clean code, offline; every invalid one stops
the bake with one clear line before anything is written."""

import re
import sys
import tomllib

import pytest

from harness.baked import assert_ruff_clean, cookiecutter_cli, run, synced
from harness.template import DEFAULT_SLUG, TEMPLATE, UNUSUAL_ANSWERS


def test_bake_works_offline(tmp_path):
    """Networking off (a fresh network namespace): the bake needs no network and no Docker."""
    result = cookiecutter_cli(tmp_path, wrapper=["unshare", "--net"])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / DEFAULT_SLUG / ".env").is_file()


def test_bake_from_a_relative_template_path(tmp_path):
    """`cookiecutter .` in a checkout: the hooks find nothing by the template's path."""
    result = run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path), "."],
        cwd=TEMPLATE,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / DEFAULT_SLUG / ".env").is_file()


@pytest.mark.parametrize(
    "answers",
    [
        {"project_name": "Café Ünïcode Sérvice"},
        {"project_name": "A" * 120, "description": "Quotes \" and ' and \\ survive"},
        {"project_slug": "x" * 40, "domain_name": "api.sub.example.co.uk"},
        UNUSUAL_ANSWERS,
    ],
    ids=["unicode-name", "long-name-quotes", "long-slug", "all-at-once"],
)
def test_unusual_but_valid_answers_bake_clean_code(bake, answers):
    project = bake(**answers)
    assert_ruff_clean(project)
    tomllib.loads((project / "pyproject.toml").read_text())


INVALID_ANSWERS = {
    "empty-name": ({"project_name": ""}, "project_name"),
    "blank-name": ({"project_name": "   "}, "project_name"),
    "name-line-break": ({"project_name": "My\nService"}, "project_name"),
    "description-control-char": ({"description": "Rings a bell\a"}, "description"),
    "author-tab": ({"author_name": "Ada\tLovelace"}, "author_name"),
    "slug-dash": ({"project_slug": "my-service"}, "project_slug"),
    "slug-space": ({"project_slug": "my service"}, "project_slug"),
    "slug-unicode": ({"project_slug": "café"}, "project_slug"),
    "slug-digit-first": ({"project_slug": "2fa"}, "project_slug"),
    "slug-uppercase": ({"project_slug": "MyService"}, "project_slug"),
    "slug-keyword": ({"project_slug": "class"}, "project_slug"),
    "slug-django": ({"project_slug": "django"}, "project_slug"),
    "slug-test": ({"project_slug": "test"}, "project_slug"),
    "slug-stdlib": ({"project_slug": "email"}, "project_slug"),
    "slug-own-package": ({"project_slug": "config"}, "project_slug"),
    "slug-dependency": ({"project_slug": "celery"}, "project_slug"),
    "slug-path": ({"project_slug": "../escape"}, "project_slug"),
    "slug-too-long": ({"project_slug": "x" * 41}, "project_slug"),
    "email-no-at": ({"author_email": "you.example.com"}, "author_email"),
    "email-no-domain": ({"author_email": "you@localhost"}, "author_email"),
    "domain-scheme": ({"domain_name": "https://example.com"}, "domain_name"),
    "domain-single-label": ({"domain_name": "localhost"}, "domain_name"),
    "domain-underscore": ({"domain_name": "my_site.example.com"}, "domain_name"),
    "time-zone": ({"time_zone": "Mars/Olympus"}, "time_zone"),
    "celery-maybe": ({"use_celery": "maybe"}, "use_celery"),
    "kubernetes-maybe": ({"use_kubernetes": "yes"}, "use_kubernetes"),
    "python-unsupported": ({"python_version": "3.10"}, "python_version"),
}


@pytest.mark.parametrize("answers,field", INVALID_ANSWERS.values(), ids=INVALID_ANSWERS)
def test_invalid_answer_aborts_with_one_clear_line_and_writes_nothing(tmp_path, answers, field):
    output = tmp_path / "out"
    output.mkdir()
    result = cookiecutter_cli(output, *(f"{name}={value}" for name, value in answers.items()))
    assert result.returncode != 0
    # Our hook's line comes first; cookiecutter's own choice check (python_version) says it last.
    lines = result.stderr.strip().splitlines()
    clear_line = lines[0] if lines[0].startswith("ERROR: ") else lines[-1]
    assert field in clear_line
    assert re.search(r"must|is empty|choices are|would shadow|keyword|longer than", clear_line)
    assert list(output.iterdir()) == []
    assert not (tmp_path / "escape").exists()


def test_every_installed_module_name_is_refused_as_a_slug(bake, cookies_session):
    """The hook's list of taken names must cover whatever the lock installs."""
    project = synced(bake(project_slug="module_probe"))
    site_packages = next((project / ".venv").glob("lib/python*/site-packages"))
    modules = {
        path.stem if path.suffix == ".py" else path.name
        for path in site_packages.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists()) or path.suffix == ".py"
    }
    modules = {name for name in modules if name.isidentifier() and not name.startswith("_")}
    accepted = [
        name
        for name in sorted(modules)
        if cookies_session.bake(extra_context={"project_slug": name}).exit_code == 0
    ]
    assert accepted == []
