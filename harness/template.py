"""Facts about the template, read from where they are defined: the answers and their
choices from cookiecutter.json, the optional files from the post-gen hook's table."""

import ast
import json
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
COOKIECUTTER = json.loads((TEMPLATE / "cookiecutter.json").read_text())

PYTHON_VERSIONS = COOKIECUTTER["python_version"]  # the first is the default
# Each image the baked project names, by the variable that points it at a mirror, and its
# official default.
OFFICIAL_IMAGES = {
    "PYTHON_IMAGE": f"python:{PYTHON_VERSIONS[0]}-slim",
    "NGINX_IMAGE": COOKIECUTTER["__nginx_image"],
    "POSTGRES_IMAGE": COOKIECUTTER["__postgres_image"],
    "REDIS_IMAGE": COOKIECUTTER["__redis_image"],
    "CERTBOT_IMAGE": COOKIECUTTER["__certbot_image"],
}
# Images the tests run in place of a default, built here as stand-ins (tests/standins/
# build.sh): Pebble, and certbot at the newest release this machine's PyPI serves.
TEST_IMAGES = json.loads((TEMPLATE / "tests/standins/test-images.json").read_text())
DEFAULT_SLUG = "my_service"  # what cookiecutter.json's slug expression makes of the default name
# Every yes/no answer (use_celery, use_kubernetes, ...).
YES_NO_ANSWERS = [name for name, default in COOKIECUTTER.items() if default in ("y", "n")]

# The option sets whose images differ; every other answer is covered by bake tests alone.
# Keys name them in test ids. Each answer that changes the image (an extra installed, a
# service added) is on in the second, so two builds see every image-changing code path.
OPTION_SETS = {
    "default": {},
    "every-image-option": {"use_celery": "y", "use_sentry": "y"},
}
# Unusual but valid answers, at their limits: baked by test_bake, and built and run once
# by test_build, under this key of the image fixture.
UNUSUAL_ANSWERS = {
    "project_name": "Café Ünïcode Sérvice — “quoted” & <escaped>",
    "project_slug": "the_longest_project_slug_allowed_is_40ch",
    "description": "Quotes \" and ' and \\ survive",
}
BAKES = {**OPTION_SETS, "unusual": UNUSUAL_ANSWERS}


def chosen(option_set, answer):
    """Whether the option set (a key of OPTION_SETS) says yes to a yes/no answer: what a
    test asks instead of comparing option sets by name, which a new option would break."""
    return OPTION_SETS[option_set].get(answer, COOKIECUTTER[answer]) == "y"


def post_gen_hook():
    return ast.parse((TEMPLATE / "hooks/post_gen_project.py").read_text())


def generated_secret_names():
    """The variables the post-gen hook writes a fresh secret into .env for."""
    function = next(
        node
        for node in post_gen_hook().body
        if isinstance(node, ast.FunctionDef) and node.name == "generated_secrets"
    )
    returned = next(node for node in ast.walk(function) if isinstance(node, ast.Return))
    return [key.value for key in returned.value.keys]


def project_env(project):
    """A baked project's .env, by name: what compose.prod.yaml hands every app container.
    Comments and blank lines skipped; values as written (the hook writes them unquoted)."""
    lines = (project / ".env").read_text().splitlines()
    return dict(
        line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#")
    )


def project_secrets(project):
    """The secrets the post-gen hook wrote into this project's .env, by name."""
    env = project_env(project)
    return {name: env[name] for name in generated_secret_names()}


def admin_path(project):
    """Where this bake's admin is: /DJANGO_ADMIN_URL from its .env (the post-gen hook makes
    a random one, so it is never the guessable /admin/)."""
    return "/" + project_env(project)["DJANGO_ADMIN_URL"]


def add_to_env(project, **variables):
    """Set variables in a baked project's .env, as its README tells a user to: every app
    container reads them (env_file) at its next start."""
    with (project / ".env").open("a") as env_file:
        env_file.writelines(f"{name}={value}\n" for name, value in variables.items())


def optional_paths(slug=DEFAULT_SLUG):
    """What each yes/no answer adds to a bake: the post-gen hook's OPTIONAL_PATHS, for a
    project of this slug."""
    table = next(
        node.value
        for node in post_gen_hook().body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "OPTIONAL_PATHS"
    )
    return {
        option: [path.replace("{{ cookiecutter.project_slug }}", slug) for path in paths]
        for option, paths in ast.literal_eval(table).items()
    }


# What a real working tree holds besides the code, at the root and deeper down (Docker's
# ignore patterns match at the root only, unless they start with **/); .dockerignore must
# keep all of it out of images. {slug} is the project's package.
LOCAL_STATE = [
    ".git/config",
    ".venv/pyvenv.cfg",
    "db.sqlite3",
    "__pycache__/stale.pyc",
    "media/upload.txt",
    "config/__pycache__/stale.cpython-311.pyc",
    "{slug}/core/__pycache__/views.cpython-311.pyc",
    "{slug}/.env.local",
    "config/.settings.py.swp",
    "config/urls.py~",
]
# Every planted file holds this (a secret, as .env.local would), so a layer scan finds one
# however it got in.
LOCAL_STATE_CONTENT = "DJANGO_SECRET_KEY=local-state-not-for-any-image"


def local_state(project):
    """LOCAL_STATE's paths in a baked project (its directory is named after its slug)."""
    return [name.format(slug=project.name) for name in LOCAL_STATE]


def add_local_state(project):
    for name in local_state(project):
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOCAL_STATE_CONTENT + "\n")
