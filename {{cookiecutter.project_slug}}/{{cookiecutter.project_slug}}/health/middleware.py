"""Answer infrastructure probes before host validation and the HTTPS redirect.

Docker, load balancers and Kubernetes probe a container by its IP address, over plain
HTTP. Routed through the normal middleware, such a request would get 400 (its Host is not
in ALLOWED_HOSTS) or a 301 to https. These paths are answered here instead; everything
else goes on down the chain untouched.
"""

from .metrics import metrics
from .views import liveness, readiness

PROBES = {
    "/health/": liveness,
    "/health/ready/": readiness,
    # Prometheus scrapes by IP too. nginx does not expose this path publicly, and the view
    # refuses whoever is not allowed (metrics.py).
    "/metrics": metrics,
}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        return probe(request)
