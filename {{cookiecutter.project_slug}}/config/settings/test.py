"""The test suite: fast, isolated, no network."""

from .base import *

SECRET_KEY = "test-only-insecure-key"

# An in-memory database per test run, with requests as atomic as in production.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "ATOMIC_REQUESTS": DATABASES["default"]["ATOMIC_REQUESTS"],
    }
}

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
