"""Copy the backups the backup service took (BACKUP_DIR) to the bucket BACKUP_S3_BUCKET,
off this host: a backup on the host it protects is lost with that host.

Copies only what the bucket lacks, so it can run after every backup; the bucket's own
lifecycle rules decide how long copies stay there.
"""

from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Copy the backups the bucket BACKUP_S3_BUCKET lacks from BACKUP_DIR."

    def handle(self, *args, **options):
        if "backups" not in settings.STORAGES:
            self.stdout.write("BACKUP_S3_BUCKET is not set: the backups stay on this host.")
            return
        if not settings.BACKUP_DIR or not Path(settings.BACKUP_DIR).is_dir():
            raise CommandError(f"BACKUP_DIR {settings.BACKUP_DIR!r} is not a directory")
        bucket = storages["backups"]
        copied = []
        # A backup's directory is named for its time; a half-written one starts with a dot.
        for backup in sorted(Path(settings.BACKUP_DIR).glob("[0-9]*/")):
            for path in sorted(backup.iterdir()):
                key = f"{backup.name}/{path.name}"
                if not bucket.exists(key):
                    with path.open("rb") as content:
                        bucket.save(key, File(content))
                    copied.append(key)
        self.stdout.write(f"{len(copied)} files copied to the bucket: {', '.join(copied)}")
