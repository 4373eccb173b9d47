"""A fork's everyday loop, without an engine: the git hooks pass offline on every bake and
catch what they are there for, CI's lint job runs as written, every recipe has a test, and
a later template commit reaches the fork through the documented update."""

import itertools
import json
import re
import shutil
import subprocess
import sys

import pytest

from harness.baked import run
from harness.template import DEFAULT_SLUG, TEMPLATE, YES_NO_ANSWERS
from harness.workflow import checkout, committed, recipes, run_job, sh, workflow

EVERY_YES_NO = [
    dict(zip(YES_NO_ANSWERS, values, strict=True))
    for values in itertools.product("ny", repeat=len(YES_NO_ANSWERS))
]
# Where each recipe of the justfile runs for real: here, or on the engine, where the recipes
# that start stacks can (tests/test_stack_recipes.py; tests/test_faults_backup.py).
RECIPES_RUN_BY = {
    "default": "here",
    "lint": "here",
    "fix": "here",
    "update-template": "here",
    **dict.fromkeys(["up", "down", "logs", "shell", "manage", "test"], "stack"),
    **dict.fromkeys(["build", "prod-up", "prod-down", "prod-logs"], "stack"),
    **dict.fromkeys(["backup", "backups", "restore"], "faults"),
}
# The workflows and renovate.json are copied into every bake as they are, never rendered:
# their hooks run on the default bake only.
SAME_IN_EVERY_BAKE = "github-workflows,renovate-config,zizmor"


def hooks_offline(project, *hook, skip=""):
    """`pre-commit run --all-files` (or one hook) with uv forbidden the network: the tools
    come from the checkout's own venv."""
    command = f"uv run --frozen --offline pre-commit run {' '.join(hook)} --all-files"
    return sh(project, command, env={"UV_OFFLINE": "1", "SKIP": skip})


@pytest.mark.parametrize(
    "answers", EVERY_YES_NO, ids=lambda a: "-".join(f"{k[4:]}={v}" for k, v in a.items())
)
def test_git_hooks_pass_offline_on_a_fresh_bake(bake, answers):
    skip = SAME_IN_EVERY_BAKE if "y" in answers.values() else ""
    result = hooks_offline(checkout(bake(**answers)), skip=skip)
    assert result.returncode == 0, result.stdout + result.stderr


def unformatted_code(project):
    views = project / DEFAULT_SLUG / "core/views.py"
    views.write_text(views.read_text() + "\nx = {  'a':1 }\n")
    return "ruff-format"


def model_without_migration(project):
    models = project / DEFAULT_SLUG / "users/models.py"
    field = "\n    nickname = models.CharField(max_length=20, blank=True)"
    text = models.read_text()
    models.write_text(
        text.replace("class User(AbstractUser):", "class User(AbstractUser):" + field)
    )
    return "migrations"


def injected_workflow_expression(project):
    ci = project / ".github/workflows/ci.yml"
    injected = 'run: echo "${{ github.event.pull_request.title }}"'
    ci.write_text(ci.read_text().replace("run: uv sync --frozen", injected, 1))
    return "zizmor"


def workflow_against_its_schema(project):
    ci = project / ".github/workflows/ci.yml"
    ci.write_text(ci.read_text().replace("runs-on:", "runs-upon:", 1))
    return "github-workflows"


def trailing_whitespace(project):
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("\n", "   \n", 1))
    return "trailing-whitespace"


def merge_conflict_left_in(project):
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> main\n")
    return "check-merge-conflict"


@pytest.mark.parametrize(
    "seed",
    [unformatted_code, model_without_migration, injected_workflow_expression,
     workflow_against_its_schema, trailing_whitespace, merge_conflict_left_in],
)  # fmt: skip
def test_git_hooks_stop_a_seeded_problem(bake, seed):
    project = checkout(bake())
    hook = seed(project)
    result = hooks_offline(project, hook)
    assert result.returncode != 0 and result.stdout.splitlines()[0].endswith("Failed")


def test_ci_lint_job_runs_its_steps_in_order_and_passes(bake):
    run_job(committed(bake()), "ci.yml", "lint")


def test_every_recipe_has_a_test_that_runs_it(bake):
    assert sorted(recipes(checkout(bake()))) == sorted(RECIPES_RUN_BY)


def test_default_recipe_lists_the_recipes_with_what_each_does(bake):
    project = checkout(bake())
    listing = sh(project, "just").stdout
    for recipe in recipes(project):
        line = next(line for line in listing.splitlines() if line.split()[:1] == [recipe])
        assert "#" in line, f"{recipe} has no description in `just`: {line}"


def test_fix_recipe_formats_what_the_hooks_would_refuse(bake):
    project = checkout(bake())
    unformatted_code(project)
    assert sh(project, "just fix").returncode == 0
    assert hooks_offline(committed(project)).returncode == 0


# The template update path: a copy of this template as its own git repository, so a test can
# commit a "later version" to it.
def template_repository(tmp_path):
    copy = tmp_path / "template"
    what_bakes = ["cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}"]
    files = run(["git", "ls-files", "-co", "--exclude-standard", *what_bakes], cwd=TEMPLATE)
    for name in files.stdout.splitlines():
        if (TEMPLATE / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, copy / name)
    return committed(copy, "Template, first version")


def baked_from(template, output_dir):
    result = run([sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir",
                  str(output_dir), str(template)])  # fmt: skip
    assert result.returncode == 0, result.stderr
    return checkout(output_dir / DEFAULT_SLUG)


def head(repository):
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


def later_template_version(template, old, new, path="{{cookiecutter.project_slug}}/README.md"):
    file = template / path
    file.write_text(file.read_text().replace(old, new, 1))
    return committed(template, "Template, later version")


def test_the_bake_records_its_template_and_commit(tmp_path):
    template = template_repository(tmp_path)
    project = baked_from(template, tmp_path / "fork")
    record = json.loads((project / ".cruft.json").read_text())
    assert (record["template"], record["commit"]) == (str(template), head(template))


def test_update_template_brings_a_later_commit_and_keeps_the_forks_own_work(tmp_path):
    template = template_repository(tmp_path)
    project = baked_from(template, tmp_path / "fork")
    secrets_before = (project / ".env").read_text()
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our own notes\n")
    committed(project, "Our own work")
    # A later template: a newer Redis image (a private answer) and a reworded README line.
    cookiecutter_json = json.loads((template / "cookiecutter.json").read_text())
    newer_redis = cookiecutter_json["__redis_image"] + ".99"
    later_template_version(template, "## Run it", "## Run it here")
    later_template_version(
        template, f'"{cookiecutter_json["__redis_image"]}"', f'"{newer_redis}"', "cookiecutter.json"
    )

    run_job(project, "template-update.yml", "update")

    assert "## Run it here" in readme.read_text() and "## Our own notes" in readme.read_text()
    assert f"REDIS_IMAGE:-{newer_redis}" in (project / "compose.prod.yaml").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == head(template)
    assert (project / ".env").read_text() == secrets_before
    assert not list(project.rglob("*.rej"))


def test_update_template_marks_a_conflict_and_the_hooks_refuse_it_until_resolved(tmp_path):
    template = template_repository(tmp_path)
    project = baked_from(template, tmp_path / "fork")
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("## Run it", "## Run it our way", 1))
    committed(project, "Our own heading")
    later_template_version(template, "## Run it", "## Run it here")

    run_job(project, "template-update.yml", "update")

    text = readme.read_text()
    assert "<<<<<<<" in text and "## Run it our way" in text and "## Run it here" in text
    assert hooks_offline(project, "check-merge-conflict").returncode != 0


def test_workflows_pin_actions_to_commits_and_grant_jobs_only_what_they_ask(bake):
    project = bake()
    for path in (project / ".github/workflows").glob("*.yml"):
        flow = workflow(project, path.name)
        assert flow["permissions"] == {}, path.name
        for name, job in flow["jobs"].items():
            assert "write-all" not in str(job["permissions"]), (path.name, name)
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)
