"""URL configuration: https://docs.djangoproject.com/en/5.2/topics/http/urls/

The probe endpoints (/health/, /health/ready/, /metrics) are answered earlier, by the
health app's ProbeMiddleware, so that they work without the public Host name.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("{{ cookiecutter.project_slug }}.core.urls")),
    path("admin/", admin.site.urls),
{%- if cookiecutter.use_celery == "y" %}
    path("jobs/", include("{{ cookiecutter.project_slug }}.jobs.urls")),
{%- endif %}
]
