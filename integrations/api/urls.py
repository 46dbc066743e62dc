from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    AlertViewSet,
    AzureMonitorWebhookNoSlashView,
    AzureMonitorWebhookView,
    ConnectionViewSet,
    DeliveryViewSet,
)

app_name = "integrations-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("alerts", AlertViewSet, basename="alert")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path(
        "integrations/azure-monitor/<slug:slug>/",
        AzureMonitorWebhookView.as_view(),
        name="azure-monitor-webhook",
    ),
    # Without the slash too: APPEND_SLASH would answer 301, which Azure does not follow.
    path("integrations/azure-monitor/<slug:slug>", AzureMonitorWebhookNoSlashView.as_view()),
    *router.urls,
]
