"""Error tracking with Sentry, off unless SENTRY_DSN is set.

https://docs.sentry.io/platforms/python/integrations/django/
Each event is tagged with the request's id, which leads from an error in Sentry to the
request's lines in the logs.
"""

import sentry_sdk

from config.settings.base import env
from {{ cookiecutter.project_slug }}.core.request_log import REQUEST_ID


def tag_request_id(event, hint):
    """before_send: runs in the thread that raised, inside the request."""
    request_id = REQUEST_ID.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init_sentry():
    dsn = env.str("SENTRY_DSN", default="")
    if not dsn:
        return
    # https://docs.sentry.io/platforms/python/configuration/options/
    sentry_sdk.init(
        dsn=dsn,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        # The commit the image was built from (Dockerfile: --build-arg REVISION).
        release=env.str("SENTRY_RELEASE", default=env.str("APP_REVISION", default="")) or None,
        # Share of requests traced for performance; 0 sends errors only.
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        before_send=tag_request_id,
    )
