"""Run the example task on a Celery worker and print its result:

    docker compose -f compose.prod.yaml exec web python manage.py count_users

A command rather than a web endpoint: only someone with a shell on the stack can queue
work, so nobody on the internet can fill the queue.
"""

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core.management.base import BaseCommand, CommandError

from {{ cookiecutter.project_slug }}.jobs.tasks import count_users


class Command(BaseCommand):
    help = "Queue the count_users task, wait for a worker to run it, print the count."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60, help="seconds to wait")

    def handle(self, *args, timeout, **options):
        job = count_users.delay()
        try:
            result = job.get(timeout=timeout)
        except CeleryTimeoutError:
            raise CommandError(f"job {job.id}: no worker ran it within {timeout:g} s") from None
        self.stdout.write(f"job {job.id}: {result} users")
