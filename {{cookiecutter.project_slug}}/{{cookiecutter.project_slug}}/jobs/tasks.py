"""Background tasks, run by the Celery worker: https://docs.celeryq.dev/en/stable/userguide/tasks.html"""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model

logger = logging.getLogger("{{ cookiecutter.project_slug }}.jobs")


@shared_task
def count_users():
    """An example task that needs both the broker and the database."""
    return get_user_model().objects.count()


@shared_task
def heartbeat():
    """An example periodic task (CELERY_BEAT_SCHEDULE): one log line per interval shows
    that beat and a worker are both running."""
    logger.info("heartbeat")
