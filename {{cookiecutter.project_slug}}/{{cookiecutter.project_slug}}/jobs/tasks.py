"""Background tasks, run by the Celery worker: https://docs.celeryq.dev/en/stable/userguide/tasks.html"""

from celery import shared_task
from django.contrib.auth import get_user_model


@shared_task
def count_users():
    """An example task that needs both the broker and the database."""
    return get_user_model().objects.count()
