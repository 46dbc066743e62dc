from django.urls import path
from rest_framework.routers import DefaultRouter

from .correlation import CorrelationRuleViewSet
from .maintenance import MaintenanceWindowViewSet
from .merging import IncidentRestructureViewSet
from .routing import AssignmentRuleViewSet
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
router.register("maintenance-windows", MaintenanceWindowViewSet, basename="maintenance-window")
router.register("correlation-rules", CorrelationRuleViewSet, basename="correlation-rule")
router.register("assignment-rules", AssignmentRuleViewSet, basename="assignment-rule")
# /api/incidents/{number}/merge/ and /split/: they move alerts, which this app owns.
router.register("incidents", IncidentRestructureViewSet, basename="incident-restructure")

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
