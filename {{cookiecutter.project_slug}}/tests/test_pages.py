import pytest
from django.utils.html import escape


@pytest.mark.django_db
def test_home_page_renders_the_project_name(client, settings):
    response = client.get("/")
    assert response.status_code == 200
    assert f"<h1>{escape(settings.PROJECT_NAME)}</h1>" in response.text


@pytest.mark.django_db
def test_admin_login_page_renders_at_the_admin_url(client, settings):
    response = client.get(f"/{settings.ADMIN_URL}login/")
    assert response.status_code == 200
    assert "admin/css/" in response.text


@pytest.mark.django_db
def test_password_reset_mails_a_link_for_the_requests_host(client, django_user_model, mailoutbox):
    django_user_model.objects.create_user(
        "ada", email="ada@example.com", password="an-old-password"
    )
    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"})
    assert response.status_code == 302
    (mail,) = mailoutbox
    assert mail.to == ["ada@example.com"]
    assert "http://testserver/accounts/reset/" in mail.body


@pytest.mark.django_db
def test_page_not_found_renders_the_projects_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.text


def test_server_error_page_renders_without_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.content.decode()


def test_metrics_expose_request_counters(client):
    client.get("/health/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "django_http_requests_before_middlewares_total" in response.text
