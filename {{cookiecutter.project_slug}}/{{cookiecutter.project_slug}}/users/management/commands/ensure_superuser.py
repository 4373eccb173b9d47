"""Create the first superuser from the environment, without a prompt, once.

Run after every `migrate` (compose.prod.yaml's migrate service does): it does nothing when
DJANGO_SUPERUSER_USERNAME is unset, or when that user exists (a changed password in the
environment does not overwrite one set through the admin).
"""

import environ
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

# Reads NAME_FILE too, so the password can be a Docker or Kubernetes secret.
env = environ.FileAwareEnv()


class Command(BaseCommand):
    help = "Create the superuser DJANGO_SUPERUSER_USERNAME names, unless it exists."

    def handle(self, *args, **options):
        username = env.str("DJANGO_SUPERUSER_USERNAME", default="")
        if not username:
            return
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Superuser {username} exists; left as it is.")
            return
        password = env.str("DJANGO_SUPERUSER_PASSWORD", default="").rstrip("\n")
        if not password:
            raise CommandError(
                "DJANGO_SUPERUSER_PASSWORD is not set; DJANGO_SUPERUSER_USERNAME needs it"
            )
        email = env.str("DJANGO_SUPERUSER_EMAIL", default="")
        users.create_superuser(username=username, email=email, password=password)
        self.stdout.write(f"Superuser {username} created.")
