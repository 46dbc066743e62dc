"""Cache busting only (STYLE.md §2): a saved or deleted rule or channel clears the rule cache."""

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from .models import NotificationChannel, NotificationRule
from .selectors import notification_rules_cache_clear

_UID = "notifications.rules_cache"


def _clear(**_: Any) -> None:
    notification_rules_cache_clear()


def connect() -> None:
    """Connect the receivers (AppConfig.ready)."""
    for model in (NotificationChannel, NotificationRule):
        post_save.connect(_clear, sender=model, dispatch_uid=f"{_UID}.save.{model.__name__}")
        post_delete.connect(_clear, sender=model, dispatch_uid=f"{_UID}.delete.{model.__name__}")
    m2m_changed.connect(
        _clear, sender=NotificationRule.assignment_groups.through, dispatch_uid=f"{_UID}.m2m"
    )
