# Naive baseline: the single-stage Dockerfile of a first tutorial. Everything in the
# context is copied before the dependencies are installed, and Django's development
# server runs in the container. Benchmark input, not a recommendation.
FROM python:3.13-slim

ENV PYTHONUNBUFFERED=1

WORKDIR /app
COPY . .

# The only concession to this machine: PyPI sits behind a TLS-intercepting proxy, so pip
# is shown its CA bundle (a BuildKit secret, never in a layer) when one is passed.
RUN --mount=type=secret,id=ca_bundle \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip install -r requirements.txt

EXPOSE 8000
CMD ["python", "manage.py", "runserver", "0.0.0.0:8000"]
