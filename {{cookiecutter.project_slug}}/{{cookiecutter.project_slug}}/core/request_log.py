"""Log lines that follow a request.

nginx gives every request an id (X-Request-ID) and logs it; every line Django logs while
serving the request carries the same id, and the logged-in user's id, so `grep <id>` over
the logs shows the whole request. Django also logs one line per request it answers.
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver

REQUEST_ID = ContextVar("request_id", default=None)
USER_ID = ContextVar("user_id", default=None)

# What nginx's $request_id looks like (32 hex digits), with room for a load balancer's
# own ids; anything else (too long, or able to forge a log line) is replaced.
VALID_REQUEST_ID = re.compile(r"[\w.-]{1,128}")

logger = logging.getLogger("{{ cookiecutter.project_slug }}.requests")


class RequestContextFilter(logging.Filter):
    """Adds request_id and user_id to every record (None outside a request)."""

    def filter(self, record):
        record.request_id = REQUEST_ID.get()
        record.user_id = USER_ID.get()
        return True


class RequestLogMiddleware:
    """Takes the request's id from X-Request-ID, or makes one (and returns it in that
    header, so the client can quote it); logs one line when the response is ready."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID", "")
        came_with_id = bool(VALID_REQUEST_ID.fullmatch(request_id))
        if not came_with_id:
            request_id = uuid.uuid4().hex
        REQUEST_ID.set(request_id)
        USER_ID.set(None)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000)
        logger.info(
            "%s %s %s %dms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        if not came_with_id:
            response["X-Request-ID"] = request_id
        return response


class UserIdMiddleware:
    """Records who is logged in, once AuthenticationMiddleware has found out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            USER_ID.set(request.user.pk)
        return self.get_response(request)


# Kept until the response is sent, not just until this middleware returns: Django logs
# "Not Found" and other 4xx/5xx lines after the whole middleware chain.
@receiver(request_finished)
def forget_request(**kwargs):
    REQUEST_ID.set(None)
    USER_ID.set(None)
