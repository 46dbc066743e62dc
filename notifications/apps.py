from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core import events
        from core.metrics import register_scrape

        from . import signals, subscriber
        from .metrics import notifications_scrape

        signals.connect()
        events.subscribe(subscriber.on_event)
        register_scrape("notifications", notifications_scrape)  # /metrics: tries given up
