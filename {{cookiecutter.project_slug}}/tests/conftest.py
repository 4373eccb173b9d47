import environ
import pytest
from django.db import connections


@pytest.fixture(autouse=True)
def forget_secret_files():
    """django-environ keeps what it read from a NAME_FILE for the life of the process (a
    container's environment never changes); one test's secret files must not outlive it."""
    yield
    environ.FileAwareEnv.ENVIRON.files_cache.clear()


@pytest.fixture
def database_down():
    """Point the default connection at a database that does not exist (a SQLite file that
    cannot be opened, or an unknown Postgres database): a real failure of the real driver,
    as when the database server is unreachable."""
    working = connections["default"]
    broken = working.__class__(
        {**working.settings_dict, "NAME": "/nonexistent-directory/db.sqlite3"}, alias="default"
    )
    connections["default"] = broken
    yield
    broken.close()
    connections["default"] = working
