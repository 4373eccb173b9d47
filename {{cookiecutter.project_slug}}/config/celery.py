"""The Celery app: https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html"""

import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

app = Celery("config")
# Every CELERY_* Django setting configures Celery (see config/settings/base.py).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_like_django(**kwargs):
    """The worker and beat log through Django's LOGGING (JSON lines in production), not
    Celery's own format: connecting this signal stops Celery configuring logging itself.
    https://docs.celeryq.dev/en/stable/userguide/signals.html#setup-logging"""
    dictConfig(settings.LOGGING)
