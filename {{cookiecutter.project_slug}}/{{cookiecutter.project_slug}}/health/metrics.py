"""/metrics for Prometheus only: refused by the app itself, not just hidden by nginx.

Open to a request straight from an allowed network (METRICS_ALLOWED_NETWORKS: by default
this host and the private ranges Prometheus scrapes from), or to one that carries the
bearer token METRICS_TOKEN from anywhere. A request nginx passed on (it adds
X-Forwarded-For) came from outside, whatever nginx's own address: it needs the token.
"""

import hmac
import ipaddress
import os
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector


def has_token(request):
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(offered, token)


def from_allowed_network(request):
    if "X-Forwarded-For" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


class LastBackup:
    """backup_last_success_timestamp_seconds: when the backup service last finished a
    backup (it writes BACKUP_DIR/last-success), so an alert can fire when it is too old.
    Absent until the first backup."""

    def collect(self):
        try:
            finished = float((Path(settings.BACKUP_DIR) / "last-success").read_text())
        except (OSError, ValueError):
            return
        yield GaugeMetricFamily(
            "backup_last_success_timestamp_seconds",
            "When the last backup of the database and uploads finished, in Unix time.",
            value=finished,
        )


def metrics(request):
    if not (has_token(request) or from_allowed_network(request)):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    registry = CollectorRegistry()
    # Under gunicorn each worker keeps its own figures in files, summed here
    # (docker/gunicorn.conf.py); elsewhere this process's own.
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    if settings.BACKUP_DIR:
        registry.register(LastBackup())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
