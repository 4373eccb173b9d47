"""Local development: debug on, SQLite by default, nothing secret required."""

from .base import *
from .base import env, flag

DEBUG = flag("DJANGO_DEBUG", default=True)

# A fixed key is fine here: dev data is throwaway and this module never runs in production.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
