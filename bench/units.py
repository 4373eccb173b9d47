"""How figures are shown: MB = 10⁶ bytes, MiB = 2²⁰ bytes, seconds to the hundredth."""

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
