"""The test suite: fast, isolated, no network but the database it is given."""

from .base import *

SECRET_KEY = "test-only-insecure-key"

# The Postgres that DATABASE_URL or POSTGRES_HOST names (`just test` and CI: as in
# production), else SQLite in memory; pytest-django makes its own test database in either.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = ":memory:"

# Hashing real passwords slowly is the point in production and a waste in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Whatever the environment names (the dev container may point at Redis or a bucket), tests
# keep their cache in memory and their uploads on the local disk.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Tests render templates without running collectstatic first.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
