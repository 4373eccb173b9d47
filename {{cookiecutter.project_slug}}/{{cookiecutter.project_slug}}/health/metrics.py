"""/metrics for Prometheus only: refused by the app itself, not just hidden by nginx.

Open to a request straight from an allowed network (METRICS_ALLOWED_NETWORKS: by default
this host and the private ranges Prometheus scrapes from), or to one that carries the
bearer token METRICS_TOKEN from anywhere. A request nginx passed on (it adds
X-Forwarded-For) came from outside, whatever nginx's own address: it needs the token.
"""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponseForbidden
from django_prometheus.exports import ExportToDjangoView


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


def metrics(request):
    if not (has_token(request) or from_allowed_network(request)):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return ExportToDjangoView(request)
