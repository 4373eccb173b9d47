import json
import logging
import logging.config

import pytest

from {{ cookiecutter.project_slug }}.core import request_log

REQUESTS_LOGGER = "{{ cookiecutter.project_slug }}.requests"


@pytest.fixture
def json_formatter(settings):
    """The formatter production logs with, built from the LOGGING setting."""
    configurator = logging.config.DictConfigurator(settings.LOGGING)
    return configurator.configure_formatter(dict(settings.LOGGING["formatters"]["json"]))


def formatted(formatter, message, *args, exc_info=None):
    record = logging.LogRecord("app", logging.WARNING, __file__, 1, message, args, exc_info)
    request_log.RequestContextFilter().filter(record)
    return formatter.format(record)


@pytest.fixture
def context_seen_by():
    """watch(logger_name) returns a list that fills, for each line the logger logs, with
    what the log filter sees then: (request_id, user_id)."""
    watched = []

    def watch(logger_name):
        seen = []

        def remember(record):
            request_log.RequestContextFilter().filter(record)
            seen.append((record.request_id, record.user_id))
            return True

        logger = logging.getLogger(logger_name)
        logger.addFilter(remember)
        watched.append((logger, remember))
        return seen

    yield watch
    for logger, remember in watched:
        logger.removeFilter(remember)


def test_a_record_becomes_one_json_line_with_the_request_id(json_formatter):
    token = request_log.REQUEST_ID.set("4f1c2b9e")
    try:
        line = formatted(json_formatter, "payment %s\nrefused", "42")
    finally:
        request_log.REQUEST_ID.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "payment 42\nrefused"
    assert (entry["level"], entry["logger"]) == ("WARNING", "app")
    assert (entry["request_id"], entry["user_id"]) == ("4f1c2b9e", None)
    assert entry["time"].endswith("+00:00")


def test_outside_a_request_the_request_id_is_null(json_formatter):
    assert json.loads(formatted(json_formatter, "started"))["request_id"] is None


def test_a_traceback_stays_on_the_line(json_formatter):
    try:
        raise ValueError("boom")
    except ValueError as error:
        line = formatted(
            json_formatter, "failed", exc_info=(ValueError, error, error.__traceback__)
        )
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exc_info"]


@pytest.mark.django_db
def test_each_request_gets_an_id_and_one_log_line(client, caplog, context_seen_by):
    seen = context_seen_by(REQUESTS_LOGGER)
    with caplog.at_level(logging.INFO, logger=REQUESTS_LOGGER):
        response = client.get("/")
    (record,) = [record for record in caplog.records if record.name == REQUESTS_LOGGER]
    assert record.getMessage().startswith("GET / 200 ")
    assert (record.method, record.path, record.status) == ("GET", "/", 200)
    assert len(response["X-Request-ID"]) == 32
    assert seen == [(response["X-Request-ID"], None)]


@pytest.mark.django_db
def test_the_request_id_from_nginx_is_kept(client, context_seen_by):
    seen = context_seen_by(REQUESTS_LOGGER)
    response = client.get("/", HTTP_X_REQUEST_ID="0123456789abcdef0123456789abcdef")
    assert seen == [("0123456789abcdef0123456789abcdef", None)]
    # nginx has it already: no second copy of the header.
    assert "X-Request-ID" not in response


@pytest.mark.django_db
def test_a_request_id_that_could_forge_a_log_line_is_replaced(client):
    response = client.get("/", HTTP_X_REQUEST_ID='x" level=INFO\nforged')
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_log_lines_carry_the_logged_in_users_id(client, django_user_model, context_seen_by):
    seen = context_seen_by(REQUESTS_LOGGER)
    user = django_user_model.objects.create_user("ada")
    client.force_login(user)
    client.get("/")
    assert [user_id for _, user_id in seen] == [user.pk]


@pytest.mark.django_db
def test_djangos_own_lines_about_the_request_carry_its_id(client, context_seen_by):
    # Django logs "Not Found" after the middleware chain has returned.
    seen = context_seen_by("django.request")
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="4f1c2b9e")
    assert seen == [("4f1c2b9e", None)]
    # Forgotten once the response is sent, so no later line claims it.
    assert request_log.REQUEST_ID.get() is None
