import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse

from {{ cookiecutter.project_slug }}.users.admin import UserAdmin


@pytest.mark.django_db
def test_a_request_that_dies_midway_leaves_none_of_its_writes(
    admin_client, django_user_model, monkeypatch
):
    """Deleting users from the admin's list writes the admin's log, then deletes them. A
    worker that dies between the two (here: an exception) must leave neither behind."""
    ada = django_user_model.objects.create_user("ada")

    def die(modeladmin, request, queryset):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(UserAdmin, "delete_queryset", die)
    with pytest.raises(RuntimeError, match="died here"):
        admin_client.post(
            reverse("admin:users_user_changelist"),
            {"action": "delete_selected", "_selected_action": [ada.pk], "post": "yes"},
        )
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert django_user_model.objects.filter(pk=ada.pk).exists()
