import pytest
from django.utils.html import escape


@pytest.mark.django_db
def test_home_page_renders_the_project_name(client, settings):
    response = client.get("/")
    assert response.status_code == 200
    assert f"<h1>{escape(settings.PROJECT_NAME)}</h1>" in response.text


@pytest.mark.django_db
def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "admin/css/" in response.text


def test_metrics_expose_request_counters(client):
    client.get("/health/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "django_http_requests_before_middlewares_total" in response.text
