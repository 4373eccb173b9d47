from django.urls import path

from . import views

app_name = "jobs"
urlpatterns = [
    path("count-users/", views.start_count_users, name="count-users"),
    path("<uuid:job_id>/", views.status, name="status"),
]
