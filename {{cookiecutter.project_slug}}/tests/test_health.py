import pytest

# Probes arrive by container IP over plain HTTP, like Docker's HEALTHCHECK or a kubelet.
PROBE_HOST = "10.0.0.7:8000"
PROD_LIKE = {"ALLOWED_HOSTS": ["{{ cookiecutter.domain_name }}"], "SECURE_SSL_REDIRECT": True}


def test_liveness_answers_ok_without_touching_the_database(client):
    # No django_db mark: pytest-django fails the test if the view opens a connection.
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_answers_ok_when_the_database_and_the_cache_answer(client):
    response = client.get("/health/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_readiness_names_what_is_down_and_logs_why(client, database_down, caplog):
    response = client.get("/health/ready/")
    assert response.status_code == 503
    # Public: what is down, never the error (it can name hosts, ports and users).
    assert response.json() == {"status": "unavailable", "database": "unavailable", "cache": "ok"}
    (line,) = [
        record.getMessage() for record in caplog.records if "readiness" in record.getMessage()
    ]
    assert "database unavailable" in line
    assert "OperationalError" in line  # the why, whichever database the tests run on


@pytest.mark.django_db
def test_readiness_reports_an_unreachable_cache(client, settings):
    # Nothing listens on port 1: the real client, a real refused connection, within seconds.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "unavailable"}


@pytest.mark.django_db
def test_liveness_stays_ok_when_the_database_is_down(client, database_down):
    assert client.get("/health/").status_code == 200


@pytest.mark.parametrize("path", ["/health/", "/health/ready/"])
@pytest.mark.django_db
def test_probes_work_by_ip_over_plain_http(client, settings, path):
    for name, value in PROD_LIKE.items():
        setattr(settings, name, value)
    response = client.get(path, HTTP_HOST=PROBE_HOST)
    assert response.status_code == 200


@pytest.mark.django_db
def test_other_pages_still_reject_unknown_hosts(client, settings):
    for name, value in PROD_LIKE.items():
        setattr(settings, name, value)
    assert client.get("/", HTTP_HOST=PROBE_HOST).status_code == 400


@pytest.mark.django_db
def test_other_pages_are_redirected_to_https(client, settings):
    for name, value in PROD_LIKE.items():
        setattr(settings, name, value)
    response = client.get("/", HTTP_HOST="{{ cookiecutter.domain_name }}")
    assert response.status_code == 301
    assert response["Location"] == "https://{{ cookiecutter.domain_name }}/"
