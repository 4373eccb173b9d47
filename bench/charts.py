"""The comparisons as bar charts (SVG), template against typical against naive: three
bars say at a glance what a table row says. Rendered without a date or random ids, so a
rerun changes a file only when its figures change."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from bench.records import Results  # noqa: E402
from bench.units import MB, MIB  # noqa: E402

COLOURS = {"template": "#2f6f4f", "typical": "#8a8a8a", "naive": "#c9a227"}
# name → (title, unit, what it shows of one variant's figures)
CHARTS = {
    "bytes-over-base": ("Bytes over the base image", "MB", lambda m: m.size.over_base / MB),
    "cold-build": ("Cold build (empty cache)", "s", lambda m: m.builds.cold),
    "code-rebuild": ("Rebuild after a one-line code change", "s",
                     lambda m: m.builds.code_median),
    "first-200": ("docker run → first 200", "s", lambda m: m.first_200),
    "memory": ("Memory under load (peak)", "MiB", lambda m: m.direct.memory_load / MIB),
}  # fmt: skip
DETERMINISTIC = {
    "svg.hashsalt": "bench",  # fixed ids instead of random ones
    "svg.fonttype": "none",  # text as text: smaller, and independent of font outlines
    "font.size": 11,
}


def shown(value):
    """Three significant figures or so: 0.65, 5.10, 14.8, 139."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def bar_chart(path: Path, title, unit, values: dict[str, float]):
    with plt.rc_context(DETERMINISTIC):
        figure, axes = plt.subplots(figsize=(5.2, 2.4))
        names = list(values)
        bars = axes.barh(names, list(values.values()), color=[COLOURS[n] for n in names])
        axes.invert_yaxis()  # template on top
        axes.bar_label(bars, labels=[f"{shown(v)} {unit}" for v in values.values()], padding=4)
        axes.set_title(title, loc="left")
        axes.set_xlim(0, max(values.values()) * 1.3 or 1)
        axes.xaxis.set_visible(False)
        for side in ("top", "right", "bottom"):
            axes.spines[side].set_visible(False)
        figure.tight_layout()
        figure.savefig(path, format="svg", metadata={"Date": None})
        plt.close(figure)


def write_charts(results: Results, directory: Path):
    """One SVG per chart; returns title → file."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (title, unit, figure) in CHARTS.items():
        path = directory / f"{name}.svg"
        values = {str(variant): figure(measured) for variant, measured in results.variants.items()}
        bar_chart(path, title, unit, values)
        written[title] = path
    return written
