"""How figures are shown: MB = 10⁶ bytes, MiB = 2²⁰ bytes, seconds to the hundredth; and
tables of them, as text and as Markdown."""

MB, MIB = 1_000_000, 1024 * 1024


def formatter(spec, unit=1):
    """A cell formatter: the value in `unit`s, with a format() spec."""
    return lambda value: format(value / unit if unit != 1 else value, spec)


fmt_seconds = formatter(".2f")
fmt_mb = formatter(".1f", MB)
fmt_mib = formatter(".0f", MIB)
fmt_ms = formatter(".1f")
fmt_rps = formatter(".0f")
fmt_int = formatter("d")


def ratio(a, b):
    if not b:
        return "—" if a else "="
    return f"{a / b:.2f}×"


def table(header, rows, ratio_columns):
    """Rows as lists of strings: the first value column is divided by each of the others."""
    out = []
    for label, values, show in rows:
        cells = [label, *[show(v) for v in values]]
        cells += [ratio(values[0], values[i]) for i in ratio_columns]
        out.append(cells)
    return [header, *out]


def render_text(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            row[0].ljust(widths[0]),
            *[c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)],
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows):
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" + "---:|" * (len(rows[0]) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)
