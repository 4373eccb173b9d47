import pytest
from django.db import connections


@pytest.fixture
def database_down():
    """Point the default connection at a SQLite file that cannot be opened: a real failure
    of the real driver, as when the database server is unreachable."""
    working = connections["default"]
    broken = working.__class__(
        {**working.settings_dict, "NAME": "/nonexistent-directory/db.sqlite3"}, alias="default"
    )
    connections["default"] = broken
    yield
    broken.close()
    connections["default"] = working
