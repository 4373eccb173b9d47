"""Start a background job and ask how it went: the web side of the Celery worker."""

from celery.result import AsyncResult
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .tasks import count_users


# A JSON endpoint that reads no cookies, so cross-site request forgery has nothing to ride on.
@csrf_exempt
@require_POST
def start_count_users(request):
    job = count_users.delay()
    status_url = reverse("jobs:status", args=[job.id])
    return JsonResponse({"id": job.id, "status_url": status_url}, status=202)


@require_GET
def status(request, job_id):
    job = AsyncResult(str(job_id))
    body = {"id": job.id, "state": job.state}
    if job.successful():
        body["result"] = job.result
    return JsonResponse(body)
