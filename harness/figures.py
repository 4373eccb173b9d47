"""Measured figures that a run keeps for people to quote afterwards (git-ignored)."""

import json

from harness.template import TEMPLATE

# Screenshots and measured figures, for people to look at after a run.
ARTIFACTS = TEMPLATE / "artifacts"


def record_figures(report, name, **figures):
    """Print measured figures and keep them under `name` in artifacts/<report>.json."""
    print(f"\n{name}: {json.dumps(figures)}")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{report}.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[name] = figures
    path.write_text(json.dumps(known, indent=2) + "\n")
