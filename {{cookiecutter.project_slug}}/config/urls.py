"""URL configuration: https://docs.djangoproject.com/en/5.2/topics/http/urls/

The probe endpoints (/health/, /health/ready/, /metrics) are answered earlier, by the
health app's ProbeMiddleware, so that they work without the public Host name.
"""

from django.contrib import admin
from django.urls import path

from {{ cookiecutter.project_slug }}.core.views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
]
