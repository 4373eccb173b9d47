"""Production: every secret from the environment, HTTPS behind the nginx proxy.

A missing required variable stops the process with one line naming it
(see config/startup.py). `manage.py check --deploy --fail-level WARNING` passes.
https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

from django.core.exceptions import ImproperlyConfigured
{%- if cookiecutter.use_sentry == "y" %}

from config.sentry import init_sentry
{%- endif %}

from .base import *
from .base import database_from_url, env, flag, logging_config

# Required: no default, so a forgotten variable cannot fall back to something weak.
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# base.py falls back to a SQLite file; production must name its database explicitly:
# DATABASE_URL, or POSTGRES_HOST and its companions (see base.py).
if not env.str("POSTGRES_HOST", default=""):
    DATABASES["default"].update(database_from_url())

if DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on: production settings refuse debug mode (it leaks settings and data)"
    )

# TLS ends in front of Django (nginx, or a load balancer before it); nginx passes on the
# scheme the client used in this header.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = flag("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
# Start small; raise to 31536000 once HTTPS is known to work for every subdomain.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = flag("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = [f"https://{host.lstrip('.')}" for host in ALLOWED_HOSTS if host != "*"]

# One JSON object per line, for whatever collects the containers' logs.
LOGGING = logging_config(default_format="json")
{%- if cookiecutter.use_sentry == "y" %}

init_sentry()
{%- endif %}
