"""ASGI entry point, for an async server: https://docs.djangoproject.com/en/5.2/howto/deployment/asgi/"""

import os

from django.core.asgi import get_asgi_application

from config.startup import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

with exit_on_configuration_error():
    application = get_asgi_application()
