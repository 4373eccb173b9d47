import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import metrics_networks

# Prometheus on the container network, and a client on the internet.
PRIVATE_ADDRESS = "10.1.2.3"
PUBLIC_ADDRESS = "203.0.113.7"
TOKEN = "a-long-random-metrics-token"


def get_metrics(client, address, **headers):
    return client.get("/metrics", REMOTE_ADDR=address, headers=headers)


def test_metrics_answer_a_scrape_from_a_private_network(client):
    response = get_metrics(client, PRIVATE_ADDRESS)
    assert response.status_code == 200
    assert b"django_http_requests_before_middlewares_total" in response.content


def test_metrics_refuse_a_public_address(client):
    response = get_metrics(client, PUBLIC_ADDRESS)
    assert response.status_code == 403
    assert b"django_" not in response.content


def test_metrics_refuse_a_request_nginx_passed_on(client):
    """nginx's own address is private; the client it names in X-Forwarded-For is not."""
    assert get_metrics(client, PRIVATE_ADDRESS, X_Forwarded_For=PUBLIC_ADDRESS).status_code == 403


def test_metrics_answer_the_bearer_token_from_anywhere(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = get_metrics(client, PUBLIC_ADDRESS, Authorization=f"Bearer {TOKEN}")
    assert response.status_code == 200
    proxied = get_metrics(
        client, PRIVATE_ADDRESS, Authorization=f"Bearer {TOKEN}", X_Forwarded_For=PUBLIC_ADDRESS
    )
    assert proxied.status_code == 200


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", TOKEN, "Bearer ", ""])
def test_metrics_refuse_a_wrong_or_missing_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    assert get_metrics(client, PUBLIC_ADDRESS, Authorization=authorization).status_code == 403


def test_no_token_is_set_so_an_empty_one_opens_nothing(client, settings):
    settings.METRICS_TOKEN = ""
    assert get_metrics(client, PUBLIC_ADDRESS, Authorization="Bearer ").status_code == 403


def test_with_no_allowed_network_only_the_token_opens_metrics(monkeypatch, client, settings):
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "")
    settings.METRICS_ALLOWED_NETWORKS = metrics_networks()
    assert get_metrics(client, "127.0.0.1").status_code == 403


def test_allowed_networks_are_read_from_the_environment(monkeypatch, client, settings):
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", f"{PUBLIC_ADDRESS}/32, 192.0.2.0/24")
    settings.METRICS_ALLOWED_NETWORKS = metrics_networks()
    assert get_metrics(client, PUBLIC_ADDRESS).status_code == 200
    assert get_metrics(client, PRIVATE_ADDRESS).status_code == 403


def test_a_malformed_network_stops_start_up_with_one_line(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/33")
    with pytest.raises(ImproperlyConfigured, match="METRICS_ALLOWED_NETWORKS must be"):
        metrics_networks()


def test_metrics_report_when_the_last_backup_finished(client, settings, tmp_path):
    """From the file the backup service writes after each backup; absent before the first."""
    settings.BACKUP_DIR = str(tmp_path)
    before = get_metrics(client, PRIVATE_ADDRESS).content
    assert b"backup_last_success_timestamp_seconds" not in before
    (tmp_path / "last-success").write_text("1764547200\n")
    metrics = get_metrics(client, PRIVATE_ADDRESS).content.decode()
    assert "backup_last_success_timestamp_seconds 1.7645472e+09" in metrics
