from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core import events

        from . import signals, subscriber

        signals.connect()
        events.subscribe(subscriber.on_event)
