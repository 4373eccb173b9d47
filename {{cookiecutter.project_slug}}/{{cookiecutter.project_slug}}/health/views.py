"""Liveness and readiness, for Docker HEALTHCHECK, load balancers and Kubernetes probes.

Liveness answers "is this process able to serve?" and never touches the database, so an
orchestrator does not restart healthy web containers because the database blinked.
Readiness answers "should traffic come here?" and checks the database.
"""

from django.db import DatabaseError, connection
from django.http import JsonResponse


def liveness(request):
    return JsonResponse({"status": "ok"})


def readiness(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        # The first line only: enough to tell "refused" from "auth failed", no more.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return JsonResponse({"status": "unavailable", "database": reason}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
