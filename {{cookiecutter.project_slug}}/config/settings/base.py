"""Settings shared by every environment.

Values that differ between deployments are read from the environment here, through
django-environ, and nowhere else. Each environment module (dev, test, prod) extends this.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

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
{%- if cookiecutter.use_celery == "y" %}
    "{{ cookiecutter.project_slug }}.jobs",
{%- endif %}
]

MIDDLEWARE = [
    # First and last so they time everything in between.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Probes come by IP over plain HTTP: answer them before host validation and the HTTPS redirect.
    "{{ cookiecutter.project_slug }}.health.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the database is unreachable, so readiness turns 503 within seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# https://docs.djangoproject.com/en/5.2/topics/i18n/
LANGUAGE_CODE = "en-us"
TIME_ZONE = "{{ cookiecutter.time_zone }}"
USE_I18N = True
USE_TZ = True

# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/
# Collected into the image at build time; nginx serves them from there.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploads live outside the image, on a volume (see compose.prod.yaml).
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed file names, so nginx can tell browsers to cache them for a year.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

# Everything to stdout: the container runtime collects it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{levelname} {name} {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
{%- if cookiecutter.use_celery == "y" %}

# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://localhost:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
{%- endif %}
