"""URL configuration: https://docs.djangoproject.com/en/5.2/topics/http/urls/

The probe endpoints (/health/, /health/ready/, /metrics) are answered earlier, by the
health app's ProbeMiddleware, so that they work without the public Host name.
"""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.core.urls")),
    # DJANGO_ADMIN_URL (config/settings/base.py).
    path(settings.ADMIN_URL, admin.site.urls),
    # Password reset and change, on the admin's own templates.
    # https://docs.djangoproject.com/en/5.2/topics/auth/default/#module-django.contrib.auth.views
    path("accounts/", include("django.contrib.auth.urls")),
    # Uploads, for runserver only (DEBUG): in production nginx serves them, or the bucket.
    # https://docs.djangoproject.com/en/5.2/howto/static-files/#serving-files-uploaded-by-a-user-during-development
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
