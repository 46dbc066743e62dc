from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from .models import SlaTarget
        from .sla import targets_cache_clear

        # Cache busting only: a changed target is read again on the next opening.
        post_save.connect(targets_cache_clear, sender=SlaTarget, dispatch_uid="sla-targets")
        post_delete.connect(targets_cache_clear, sender=SlaTarget, dispatch_uid="sla-targets-d")
