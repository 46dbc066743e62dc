"""Pieces shared by every app's models."""

from django.db import models


class TimeStampedModel(models.Model):
    """Give a model an indexed creation time and an automatic update time."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
