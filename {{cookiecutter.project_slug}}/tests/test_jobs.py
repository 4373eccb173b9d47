import logging

import pytest
from django.contrib.auth import get_user_model

from config.celery import app
from {{ cookiecutter.project_slug }}.jobs.tasks import count_users, heartbeat


def test_celery_reads_its_configuration_from_django_settings(settings):
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


@pytest.mark.django_db
def test_count_users_task_runs(django_user_model):
    django_user_model.objects.create_user("ada")
    # apply() runs the task in this process, without a broker; the compose stacks bring
    # Redis and a worker for the round trip.
    assert count_users.apply().get() == get_user_model().objects.count() == 1


def test_starting_a_job_needs_post(client):
    assert client.get("/jobs/count-users/").status_code == 405


def test_beat_schedules_the_heartbeat(settings):
    (entry,) = settings.CELERY_BEAT_SCHEDULE.values()
    assert entry["task"] == heartbeat.name
    assert entry["schedule"] == 60


def test_heartbeat_logs_one_line(caplog):
    with caplog.at_level(logging.INFO):
        heartbeat.apply().get()
    assert [record.getMessage() for record in caplog.records if record.name.endswith(".jobs")] == [
        "heartbeat"
    ]
