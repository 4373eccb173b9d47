"""Liveness and readiness, for Docker HEALTHCHECK, load balancers and Kubernetes probes.

Liveness answers "is this process able to serve?" and never touches the database, so an
orchestrator does not restart healthy web containers because the database blinked.
Readiness answers "should traffic come here?" and checks the database and the cache. Its
answer is public, so it names what is down but never why (hosts, users and error text go
to the log).
"""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def liveness(request):
    return JsonResponse({"status": "ok"})


def query_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def round_trip_cache():
    cache.set("health:ready", "ok", timeout=10)
    cache.get("health:ready")


CHECKS = {"database": query_database, "cache": round_trip_cache}


def readiness(request):
    body = {"status": "ok"}
    for name, check in CHECKS.items():
        try:
            check()
            body[name] = "ok"
        # Whatever the driver raises (each cache backend has its own errors) means unready.
        except Exception as error:
            detail = " ".join(str(error).split())
            logger.warning("readiness: %s unavailable: %s: %s", name, type(error).__name__, detail)
            body[name] = body["status"] = "unavailable"
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
