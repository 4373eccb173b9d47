# Typical baseline: the multi-stage Dockerfile most "Django in production with Docker"
# posts show. A builder with a compiler and libpq headers fills a virtualenv from
# requirements.txt; the runtime adds libpq and curl, copies the venv and the code,
# collects static files, runs as a non-root user under gunicorn. Benchmark input.

# ---- builder --------------------------------------------------------------------------
FROM python:3.13-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# `apt-get clean` is a no-op on Docker Hub's python image (its apt is configured to drop
# downloaded packages); the local stand-in lacks that setting, so it is said explicitly.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

COPY requirements.txt .
# PIP_CERT: this machine's PyPI goes through a TLS-intercepting proxy (BuildKit secret).
RUN --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip install --no-cache-dir -r requirements.txt

# ---- runtime --------------------------------------------------------------------------
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    DJANGO_SETTINGS_MODULE=config.settings.prod

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 curl \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home appuser

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --chown=appuser:appuser . .

# Static files need no secrets: the project's base settings are enough to collect them.
RUN DJANGO_SETTINGS_MODULE=config.settings.base python manage.py collectstatic --noinput

USER appuser

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -f http://localhost:8000/health/ || exit 1

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "config.wsgi:application"]
