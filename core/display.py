"""How the console writes values in code, the way its templates and Django's admin do."""

from datetime import datetime

from django.utils import formats, timezone


def datetime_display(value: datetime) -> str:
    """`value` in the console's one date format, in the current zone: "2026-12-01 14:05 UTC"."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")
