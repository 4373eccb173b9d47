from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render


def home(request):
    # One query, so this page exercises the same path as a real one: template + database.
    return render(
        request,
        "core/home.html",
        {
            "project_name": settings.PROJECT_NAME,
            "user_count": get_user_model().objects.count(),
        },
    )
