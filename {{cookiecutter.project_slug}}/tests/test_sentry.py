import sentry_sdk

from config.sentry import init_sentry, tag_request_id
from {{ cookiecutter.project_slug }}.core.request_log import REQUEST_ID


def test_sentry_stays_off_without_a_dsn(monkeypatch):
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    monkeypatch.delenv("SENTRY_DSN_FILE", raising=False)
    init_sentry()
    assert not sentry_sdk.get_client().is_active()


def test_events_are_tagged_with_the_request_id():
    token = REQUEST_ID.set("4f1c2b9e")
    try:
        event = tag_request_id({"tags": {"handled": "no"}}, hint={})
    finally:
        REQUEST_ID.reset(token)
    assert event["tags"] == {"handled": "no", "request_id": "4f1c2b9e"}


def test_events_outside_a_request_carry_no_request_id():
    assert "tags" not in tag_request_id({}, hint={})
