"""WSGI entry point for gunicorn: https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/"""

import os

from django.core.wsgi import get_wsgi_application

from config.startup import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

with exit_on_configuration_error():
    application = get_wsgi_application()
