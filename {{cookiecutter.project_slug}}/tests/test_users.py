import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

SUPERUSER_VARIABLES = ["USERNAME", "EMAIL", "PASSWORD", "PASSWORD_FILE"]


def test_the_user_model_is_the_projects_own():
    assert get_user_model()._meta.label == "users.User"


@pytest.mark.django_db
def test_an_avatar_is_stored_under_avatars(django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = django_user_model.objects.create_user("ada")
    user.avatar = SimpleUploadedFile("ada.png", b"\x89PNG", content_type="image/png")
    user.save()
    assert user.avatar.name == "avatars/ada.png"
    assert (tmp_path / "avatars/ada.png").read_bytes() == b"\x89PNG"
    assert user.avatar.url == "/media/avatars/ada.png"


@pytest.mark.django_db
def test_the_admin_edits_the_avatar(admin_client, admin_user, settings):
    response = admin_client.get(f"/{settings.ADMIN_URL}users/user/{admin_user.pk}/change/")
    assert response.status_code == 200
    assert 'name="avatar"' in response.text


@pytest.fixture
def superuser_environment(monkeypatch):
    for name in SUPERUSER_VARIABLES:
        monkeypatch.delenv(f"DJANGO_SUPERUSER_{name}", raising=False)

    def set_variables(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(f"DJANGO_SUPERUSER_{name}", value)

    return set_variables


@pytest.mark.django_db
def test_ensure_superuser_does_nothing_without_a_username(superuser_environment, capsys):
    call_command("ensure_superuser")
    assert capsys.readouterr().out == ""
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_ensure_superuser_creates_the_superuser_once(superuser_environment, capsys, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("a-long-secret-password\n")
    superuser_environment(
        USERNAME="root", EMAIL="root@example.com", PASSWORD_FILE=str(password_file)
    )
    call_command("ensure_superuser")
    call_command("ensure_superuser")
    assert capsys.readouterr().out.splitlines() == [
        "Superuser root created.",
        "Superuser root exists; left as it is.",
    ]
    user = get_user_model().objects.get()
    assert (user.username, user.email, user.is_superuser, user.is_staff) == (
        "root", "root@example.com", True, True
    )  # fmt: skip
    assert user.check_password("a-long-secret-password")


@pytest.mark.django_db
def test_ensure_superuser_needs_a_password(superuser_environment):
    superuser_environment(USERNAME="root")
    with pytest.raises(CommandError, match="^DJANGO_SUPERUSER_PASSWORD is not set"):
        call_command("ensure_superuser")
    assert not get_user_model().objects.exists()
