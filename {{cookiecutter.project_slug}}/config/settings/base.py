"""Settings shared by every environment.

Values that differ between deployments are read from the environment here, through
django-environ, and nowhere else. Each environment module (dev, test, prod) extends this.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import ipaddress
import re
import warnings
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from {{ cookiecutter.project_slug }}.core.request_log import RequestContextFilter

BASE_DIR = Path(__file__).resolve().parent.parent.parent

PROJECT_NAME = "{{ cookiecutter.__py_project_name }}"

# FileAwareEnv also reads NAME_FILE (a path) for any NAME, which is how Docker and
# Kubernetes secrets arrive: https://django-environ.readthedocs.io/en/latest/tips.html#docker-style-file-based-variables
env = environ.FileAwareEnv()


def flag(name, default):
    """A yes/no variable. Anything but a plain yes or no stops start-up with one line:
    django-environ reads any other word (DJANGO_DEBUG=ture) as no, without a warning."""
    value = env.str(name, default="").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "y", "on"}:
        return True
    if value in {"0", "false", "no", "n", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} is {value!r}, not true or false")


# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = flag("DJANGO_DEBUG", default=False)

# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])


def admin_url():
    """DJANGO_ADMIN_URL, a path like admin-2f9c/: the admin at a path bots do not try."""
    path = env.str("DJANGO_ADMIN_URL", default="admin/")
    if not re.fullmatch(r"([\w.~-]+/)+", path):
        raise ImproperlyConfigured(
            "DJANGO_ADMIN_URL must be a path like admin-2f9c/: ending with /, not starting with /"
        )
    return path


# Where config/urls.py mounts the admin.
ADMIN_URL = admin_url()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "{{ cookiecutter.project_slug }}.core",
    "{{ cookiecutter.project_slug }}.health",
    "{{ cookiecutter.project_slug }}.users",
{%- if cookiecutter.use_celery == "y" %}
    "{{ cookiecutter.project_slug }}.jobs",
{%- endif %}
]

MIDDLEWARE = [
    # First and last so they time everything in between.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Probes come by IP over plain HTTP: answer them before host validation and the HTTPS redirect.
    "{{ cookiecutter.project_slug }}.health.middleware.ProbeMiddleware",
    # After the probes, so the health checks every few seconds do not flood the log.
    "{{ cookiecutter.project_slug }}.core.request_log.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "{{ cookiecutter.project_slug }}.core.request_log.UserIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(default=env.NOTSET):
    """DATABASE_URL as a DATABASES entry. A malformed URL, or one whose scheme names no
    database django-environ knows (it passes `foo://` on as an engine called "foo"), stops
    start-up with one line that names the variable but not its value (it holds the
    password; django-environ's own warning would print it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            database = env.db("DATABASE_URL", default=default)
        except (ValueError, UserWarning):
            database = {}
    if database.get("ENGINE") not in env.DB_SCHEMES.values():
        raise ImproperlyConfigured(
            "DATABASE_URL is not a database URL like postgres://USER:PASSWORD@HOST:5432/NAME"
        )
    return database


# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# DATABASE_URL names the database, in one of these forms:
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# Without it, POSTGRES_HOST means Postgres described by the variables the postgres image
# reads too, so one secret file (POSTGRES_PASSWORD_FILE) serves both; without either,
# SQLite in the project folder, so a checkout runs without Docker.
if env.str("POSTGRES_HOST", default="") and not env.str("DATABASE_URL", default=""):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": env("POSTGRES_HOST"),
            "PORT": env.int("POSTGRES_PORT", default=5432),
            "USER": env("POSTGRES_USER", default="postgres"),
            "NAME": env("POSTGRES_DB", default=env("POSTGRES_USER", default="postgres")),
            # The postgres image drops a secret file's trailing newline; so must we.
            "PASSWORD": env("POSTGRES_PASSWORD").rstrip("\n"),
        }
    }
else:
    DATABASES = {"default": database_from_url(default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Reuse connections across requests, and check them before reuse so a database restart
# costs one failed check rather than one failed request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Each request's writes commit together or not at all: a worker killed mid-request, or an
# exception, leaves no half-written request behind.
# https://docs.djangoproject.com/en/5.2/topics/db/transactions/#tying-transactions-to-http-requests
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the database is unreachable, so readiness turns 503 within seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Set before the first migration: it cannot be swapped once tables exist.
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
AUTH_USER_MODEL = "users.User"
# The admin's login page is the site's only one; password-reset pages link to it.
# https://docs.djangoproject.com/en/5.2/ref/settings/#login-url
LOGIN_URL = "admin:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


# Where Prometheus scrapes from: this host, and the private ranges of container networks.
PRIVATE_NETWORKS = [
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
]  # fmt: skip


def metrics_networks():
    """METRICS_ALLOWED_NETWORKS, comma-separated CIDRs: who may read /metrics without
    METRICS_TOKEN (health/metrics.py). Unset: PRIVATE_NETWORKS; empty: nobody, the token
    only."""
    value = env.str("METRICS_ALLOWED_NETWORKS", default=",".join(PRIVATE_NETWORKS))
    try:
        return [ipaddress.ip_network(cidr.strip()) for cidr in value.split(",") if cidr.strip()]
    except ValueError:
        raise ImproperlyConfigured(
            "METRICS_ALLOWED_NETWORKS must be comma-separated networks like 10.0.0.0/8"
        ) from None


METRICS_ALLOWED_NETWORKS = metrics_networks()
# A bearer token that opens /metrics from anywhere (Prometheus' `authorization`), best as
# METRICS_TOKEN_FILE. Unset: no token opens it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="").rstrip("\n")

# https://docs.djangoproject.com/en/5.2/topics/i18n/
LANGUAGE_CODE = "en-us"
TIME_ZONE = "{{ cookiecutter.time_zone }}"
USE_I18N = True
USE_TZ = True

# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/
# Collected into the image at build time; nginx serves them from there.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploads live outside the image: on a volume nginx serves at /media/ (see
# compose.prod.yaml), or in an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set.
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")


def required_secret(name, needed_by):
    """A secret that must be set because `needed_by` is; a secret file's newline dropped."""
    value = env.str(name, default="").rstrip("\n")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set; {needed_by} needs it")
    return value


def s3_bucket(bucket, needed_by):
    """django-storages' S3 options for `bucket`: the AWS_* credentials and endpoint."""
    return {
        "bucket_name": bucket,
        "access_key": required_secret("AWS_ACCESS_KEY_ID", needed_by),
        "secret_key": required_secret("AWS_SECRET_ACCESS_KEY", needed_by),
        # Unset: AWS itself; set for another provider or a self-hosted service.
        "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
        "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
    }


def media_storage():
    """Where uploads go: STORAGES["default"]. A bucket (django-storages' S3 backend, for
    AWS or any S3-compatible service) when AWS_STORAGE_BUCKET_NAME is set, else MEDIA_ROOT.
    https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html#settings"""
    bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **s3_bucket(bucket, needed_by="AWS_STORAGE_BUCKET_NAME"),
            # Files served from a CDN or a public bucket's own domain instead.
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None,
            "url_protocol": env.str("AWS_S3_URL_PROTOCOL", default="https:"),
            # Signed, expiring links: the bucket itself can stay private.
            "querystring_auth": flag("AWS_QUERYSTRING_AUTH", default=True),
            # Like the file-system storage: a second upload of a.png becomes a_x7Yz.png
            # instead of replacing the first.
            "file_overwrite": False,
        },
    }


# Where the backup service (docker/backup/backup.sh) leaves its backups, for /metrics'
# backup_last_success_timestamp_seconds and `manage.py upload_backups`. Unset: no backups here.
BACKUP_DIR = env.str("BACKUP_DIR", default="")


def backup_storage():
    """Where `manage.py upload_backups` copies the backups, off this host: the S3-compatible
    bucket BACKUP_S3_BUCKET, with the uploads' credentials and endpoint. Unset: nowhere."""
    bucket = env.str("BACKUP_S3_BUCKET", default="")
    if not bucket:
        return {}
    options = s3_bucket(bucket, needed_by="BACKUP_S3_BUCKET")
    return {"backups": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}}


# https://docs.djangoproject.com/en/5.2/ref/settings/#storages
STORAGES = {
    "default": media_storage(),
    # Content-hashed file names, so nginx can tell browsers to cache them for a year.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    **backup_storage(),
}


def email_from_url():
    """EMAIL_URL as Django's EMAIL_* settings, in django-environ's form:
    https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
    A malformed URL stops start-up with one line that names the variable but not its
    value (it holds the password)."""
    try:
        email = env.email_url("EMAIL_URL", default="consolemail://")
    except (ImproperlyConfigured, ValueError):
        email = {}
    smtp = email.get("EMAIL_BACKEND") == "django.core.mail.backends.smtp.EmailBackend"
    if not email or (smtp and not email["EMAIL_HOST"]):
        raise ImproperlyConfigured(
            "EMAIL_URL is not an email URL like smtp+tls://USER:PASSWORD@HOST:587 or consolemail://"
        )
    return email


# https://docs.djangoproject.com/en/5.2/topics/email/#smtp-backend
# The default, consolemail://, prints each message to the log instead of sending it.
vars().update(email_from_url())
# A stalled mail server must not hold a gunicorn thread for ever.
EMAIL_TIMEOUT = 10
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-from-email
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL",
    default="noreply@{{ cookiecutter.domain_name }}",
)
# The sender of error mails to ADMINS.
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)


def admins():
    """DJANGO_ADMINS, comma-separated `Name <address>` or `address`: who gets an email
    for each server error. https://docs.djangoproject.com/en/5.2/ref/settings/#admins"""
    value = env.str("DJANGO_ADMINS", default="")
    addresses = getaddresses([value]) if value.strip() else []
    if any("@" not in address for _, address in addresses):
        raise ImproperlyConfigured(
            "DJANGO_ADMINS must be comma-separated addresses like Ada <ada@example.com>"
        )
    return addresses


ADMINS = admins()


def cache_from_url():
    """CACHE_URL as the default cache, in django-environ's form:
    https://django-environ.readthedocs.io/en/latest/types.html#environ-env-cache-url
    redis://HOST:6379/1 is Django's own Redis backend, shared by every worker and replica;
    the default, locmemcache://, is private to each process."""
    try:
        cache = env.cache_url("CACHE_URL", default="locmemcache://")
        # django-environ passes the servers' addresses on unread: a port that is not a
        # number would surface only at the first request that touches the cache.
        for server in str(cache.get("LOCATION", "")).split(","):
            urlsplit(server).port  # noqa: B018 (reading it raises ValueError for a bad port)
    except (ImproperlyConfigured, ValueError):
        cache = {}
    if not cache:
        raise ImproperlyConfigured("CACHE_URL is not a cache URL like redis://HOST:6379/1")
    if cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        # Give up on an unreachable Redis within seconds, so readiness turns 503 instead of
        # hanging. https://docs.djangoproject.com/en/5.2/topics/cache/#redis
        cache.setdefault("OPTIONS", {}).update(socket_connect_timeout=2, socket_timeout=2)
    return cache


# https://docs.djangoproject.com/en/5.2/ref/settings/#caches
CACHES = {"default": cache_from_url()}


def logging_config(default_format):
    """Everything to the console (stderr; the container runtime collects it), in the format
    DJANGO_LOG_FORMAT names: plain lines for people, or one JSON object per line
    (python-json-logger) for a log pipeline. Each line carries the id of the request it was
    logged in (X-Request-ID, also in nginx's access log) and the logged-in user's id.
    https://docs.djangoproject.com/en/5.2/topics/logging/#configuring-logging"""
    log_format = env.str("DJANGO_LOG_FORMAT", default=default_format)
    if log_format not in ("json", "plain"):
        raise ImproperlyConfigured("DJANGO_LOG_FORMAT must be json or plain")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContextFilter}},
        "formatters": {
            "plain": {"format": "{levelname} {name} {message}", "style": "{"},
            # https://nhairs.github.io/python-json-logger/latest/quickstart/
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": ["levelname", "name", "message", "request_id", "user_id"],
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request"],
            }
        },
        "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    }


LOGGING = logging_config(default_format="plain")
{%- if cookiecutter.use_celery == "y" %}

# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://localhost:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_TIME_LIMIT = 5 * 60
# Periodic tasks, sent by the one `celery beat` process to the workers.
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html#entries
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "{{ cookiecutter.project_slug }}.jobs.tasks.heartbeat",
        "schedule": env.float("JOBS_HEARTBEAT_SECONDS", default=60.0),
    },
}
{%- endif %}
