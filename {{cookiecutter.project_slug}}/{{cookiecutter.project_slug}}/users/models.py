from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The project's own user model, so fields can be added later with a plain migration.
    https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
    """

    # Stored by STORAGES["default"]: the media volume, or the S3 bucket.
    avatar = models.FileField(upload_to="avatars/", blank=True)
