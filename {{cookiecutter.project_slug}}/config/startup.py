"""Turn a configuration error into one readable line and a non-zero exit.

Without this, a missing secret shows up as a long traceback (or, under gunicorn, as
every worker failing to boot), and the variable's name is buried in it.
"""

import sys
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured


@contextmanager
def exit_on_configuration_error():
    try:
        yield
    except ImproperlyConfigured as error:
        sys.exit(f"Configuration error: {error}")
