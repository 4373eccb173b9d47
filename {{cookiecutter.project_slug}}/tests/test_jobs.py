import io
import logging
import re

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

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


@pytest.mark.django_db
def test_jobs_are_queued_from_the_command_line_not_the_web(client):
    """Nobody on the internet can queue work: the command needs a shell on the stack."""
    assert client.post("/jobs/count-users/").status_code == 404


@pytest.mark.django_db
def test_count_users_command_prints_the_workers_result(django_user_model):
    django_user_model.objects.create_user("ada")
    # Eager: the task runs in this process, as a worker would run it.
    app.conf.task_always_eager = True
    try:
        out = io.StringIO()
        call_command("count_users", stdout=out)
    finally:
        app.conf.task_always_eager = False
    assert re.fullmatch(r"job \S+: 1 users\n", out.getvalue())


def test_count_users_command_gives_up_with_one_line_when_no_worker_answers(monkeypatch):
    class NeverRun:
        id = "a-job-id"

        def get(self, timeout):
            raise CeleryTimeoutError

    monkeypatch.setattr(count_users, "delay", NeverRun)
    with pytest.raises(CommandError, match=r"^job a-job-id: no worker ran it within 0.5 s$"):
        call_command("count_users", "--timeout", "0.5")


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
