from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        from core.metrics import register_scrape

        from . import checks, schema  # noqa: F401 - register the deploy checks, the OpenAPI extension
        from .metrics import spool_scrape
        from .models import Connection
        from .signals import clear_connection_cache

        post_save.connect(clear_connection_cache, sender=Connection, dispatch_uid="conn-cache")
        post_delete.connect(clear_connection_cache, sender=Connection, dispatch_uid="conn-cache-d")
        from .models import MaintenanceWindow
        from .signals import clear_windows_cache

        post_save.connect(clear_windows_cache, sender=MaintenanceWindow, dispatch_uid="mw")
        post_delete.connect(clear_windows_cache, sender=MaintenanceWindow, dispatch_uid="mw-d")
        from .models import CorrelationRule
        from .signals import clear_rules_cache

        post_save.connect(clear_rules_cache, sender=CorrelationRule, dispatch_uid="rules")
        post_delete.connect(clear_rules_cache, sender=CorrelationRule, dispatch_uid="rules-d")
        from incidents.models import AssignmentGroup

        from .models import AssignmentRule
        from .routing import rules_cache_clear

        # The assignment rules' cache holds the groups' names too.
        for sender in (AssignmentRule, AssignmentGroup):
            uid = f"routing-{sender.__name__}"
            post_save.connect(rules_cache_clear, sender=sender, dispatch_uid=uid)
            post_delete.connect(rules_cache_clear, sender=sender, dispatch_uid=f"{uid}-d")
        register_scrape("spool", spool_scrape)  # /metrics reads the spool's depth
