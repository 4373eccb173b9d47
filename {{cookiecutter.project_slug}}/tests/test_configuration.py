"""Settings built from an environment: each function of config/settings/base.py that
turns variables into a setting, called with the variables a deployment would set."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import (
    admin_url,
    admins,
    cache_from_url,
    email_from_url,
    logging_config,
    media_storage,
)

S3_ENV = {
    "AWS_STORAGE_BUCKET_NAME": "uploads",
    "AWS_ACCESS_KEY_ID": "key-id",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.com",
}


@pytest.fixture
def environment(monkeypatch):
    """Sets variables for one test; clears the ones the functions read, so the developer's
    own environment cannot change a result."""
    for name in [
        *S3_ENV, "AWS_S3_REGION_NAME", "AWS_S3_CUSTOM_DOMAIN", "AWS_S3_URL_PROTOCOL",
        "AWS_QUERYSTRING_AUTH", "EMAIL_URL", "CACHE_URL", "DJANGO_ADMINS", "DJANGO_ADMIN_URL",
        "DJANGO_LOG_FORMAT",
    ]:  # fmt: skip
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)

    def set_variables(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


def test_uploads_go_to_the_file_system_without_a_bucket(environment):
    assert media_storage() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_uploads_go_to_the_bucket_when_one_is_set(environment):
    environment(**S3_ENV)
    storage = media_storage()
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"]) == (
        "uploads",
        "https://s3.example.com",
    )
    assert (options["access_key"], options["secret_key"]) == ("key-id", "secret")
    assert options["querystring_auth"] is True
    assert options["file_overwrite"] is False


def test_bucket_credentials_can_come_from_secret_files(environment, tmp_path):
    secret_file = tmp_path / "aws_secret_access_key"
    secret_file.write_text("from-a-file\n")
    environment(**{**S3_ENV, "AWS_SECRET_ACCESS_KEY": ""})
    environment(AWS_SECRET_ACCESS_KEY_FILE=str(secret_file))
    assert media_storage()["OPTIONS"]["secret_key"] == "from-a-file"


@pytest.mark.parametrize("missing", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_a_bucket_without_a_credential_is_refused_naming_it(environment, missing):
    environment(**{**S3_ENV, missing: ""})
    with pytest.raises(ImproperlyConfigured, match=f"^{missing} is not set"):
        media_storage()


def test_the_s3_storage_accepts_the_options(environment):
    from storages.backends.s3 import S3Storage

    environment(**S3_ENV, AWS_S3_CUSTOM_DOMAIN="media.example.com")
    storage = S3Storage(**media_storage()["OPTIONS"])
    assert storage.url("avatars/a.png") == "https://media.example.com/avatars/a.png"


def test_email_is_printed_by_default(environment):
    assert email_from_url()["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_email_url_describes_an_smtp_server(environment):
    environment(EMAIL_URL="smtp+tls://mailer:p%40ss@smtp.example.com:587")
    email = email_from_url()
    assert email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"]) == ("smtp.example.com", 587)
    assert (email["EMAIL_HOST_USER"], email["EMAIL_HOST_PASSWORD"]) == ("mailer", "p@ss")
    assert email["EMAIL_USE_TLS"] is True


@pytest.mark.parametrize(
    "url",
    ["bogus", "smtp://user:secret@smtp.example.com:port", "smpt://smtp.example.com", "smtp://", ""],
)
def test_a_malformed_email_url_is_refused_without_showing_it(environment, url):
    environment(EMAIL_URL=url)
    with pytest.raises(ImproperlyConfigured, match="^EMAIL_URL is not an email URL") as error:
        email_from_url()
    assert "secret" not in str(error.value)


def test_admins_are_read_as_name_and_address(environment):
    environment(DJANGO_ADMINS="Ada Lovelace <ada@example.com>, bob@example.com")
    assert admins() == [("Ada Lovelace", "ada@example.com"), ("", "bob@example.com")]


def test_admins_must_be_addresses(environment):
    environment(DJANGO_ADMINS="ada")
    with pytest.raises(ImproperlyConfigured, match="^DJANGO_ADMINS"):
        admins()


def test_cache_is_local_memory_by_default(environment):
    assert cache_from_url()["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_redis_cache_gives_up_within_seconds(environment):
    environment(CACHE_URL="redis://redis:6379/1")
    cache = cache_from_url()
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://redis:6379/1"
    assert cache["OPTIONS"] == {"socket_connect_timeout": 2, "socket_timeout": 2}


@pytest.mark.parametrize("url", ["bogus", "memcachd://cache:11211", ""])
def test_a_malformed_cache_url_is_refused(environment, url):
    environment(CACHE_URL=url)
    with pytest.raises(ImproperlyConfigured, match="^CACHE_URL is not a cache URL"):
        cache_from_url()


@pytest.mark.parametrize("path", ["admin/", "admin-2f9c/", "staff/admin/"])
def test_admin_url_takes_a_relative_path(environment, path):
    environment(DJANGO_ADMIN_URL=path)
    assert admin_url() == path


@pytest.mark.parametrize("path", ["/admin/", "admin", "", "ad min/", "admin//"])
def test_admin_url_refuses_anything_else(environment, path):
    environment(DJANGO_ADMIN_URL=path)
    with pytest.raises(ImproperlyConfigured, match="^DJANGO_ADMIN_URL"):
        admin_url()


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_log_format_picks_the_formatter(environment, log_format):
    environment(DJANGO_LOG_FORMAT=log_format)
    assert logging_config(default_format="plain")["handlers"]["console"]["formatter"] == log_format


def test_log_format_refuses_an_unknown_one(environment):
    environment(DJANGO_LOG_FORMAT="xml")
    with pytest.raises(ImproperlyConfigured, match="^DJANGO_LOG_FORMAT is 'xml'"):
        logging_config(default_format="json")
