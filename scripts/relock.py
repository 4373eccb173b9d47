"""Regenerate {{cookiecutter.project_slug}}/uv.lock after changing the baked pyproject.toml.

    python scripts/relock.py [--upgrade]

Bakes a project, runs `uv lock` in it, and writes the lock back into the template with
the project's own name templated, so every bake gets the same locked dependency set.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import uv
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
LOCK = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
SLUG = "relock_probe"


def main():
    with tempfile.TemporaryDirectory() as workdir:
        project = Path(
            cookiecutter(
                str(TEMPLATE),
                no_input=True,
                output_dir=workdir,
                extra_context={"project_slug": SLUG},
            )
        )
        subprocess.run(
            [uv.find_uv_bin(), "lock", "--python", sys.executable, *sys.argv[1:]],
            cwd=project,
            check=True,
        )
        baked_name = f'name = "{SLUG.replace("_", "-")}"'
        templated_name = "name = \"{{ cookiecutter.project_slug|replace('_', '-') }}\""
        lock = (project / "uv.lock").read_text()
        assert lock.count(baked_name) == 1, "expected the project's name exactly once"
        LOCK.write_text(lock.replace(baked_name, templated_name))
    print(f"wrote {LOCK.relative_to(TEMPLATE)}")


if __name__ == "__main__":
    main()
