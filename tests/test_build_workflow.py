"""CI's image job, on the engine: each target its build step names builds from the inputs
the step gives (context, target, build arguments), and carries the commit it was built
from. The registry, GitHub's cache and the attestations need CI's own BuildKit and are
left to it."""

import re
import uuid

from harness import engine
from harness.workflow import committed, sh, workflow


def expanded(value, context):
    """A workflow value with its `${{ name }}` expressions replaced from `context`."""
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda match: context[match[1]], value)


def test_ci_image_job_builds_every_target_with_the_commit_in_it(bake, docker_engine):
    project = committed(bake())
    commit = sh(project, "git rev-parse HEAD").stdout.strip()
    job = workflow(project, "ci.yml")["jobs"]["image"]
    (build,) = [step for step in job["steps"] if "build-push-action@" in step.get("uses", "")]
    targets = job["strategy"]["matrix"]["target"]
    assert sorted(targets) == ["nginx", "runtime"]
    for target in targets:
        context = {"matrix.target": target, "github.sha": commit}
        inputs = {name: expanded(str(build["with"][name]), context)
                  for name in ("context", "target", "build-args")}  # fmt: skip
        tag = f"django-docker-test/ci-{target}:{uuid.uuid4().hex[:8]}"
        build_args = [f"--build-arg={argument}" for argument in inputs["build-args"].split()]
        try:
            engine.docker("buildx", "build", "--load", *engine.ca_bundle_secret(),
                          f"--target={inputs['target']}", *build_args, f"--tag={tag}",
                          str(project / inputs["context"]))  # fmt: skip
            if target == "runtime":
                env = engine.docker("inspect", "-f", "{{json .Config.Env}}", tag).stdout
                assert f"APP_REVISION={commit}" in env
        finally:
            engine.docker("rmi", "--force", tag, check=False)
