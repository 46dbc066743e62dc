from django.urls import path

from .views import AzureMonitorWebhookView

app_name = "integrations-api"

urlpatterns = [
    path(
        "integrations/azure-monitor/<slug:slug>/",
        AzureMonitorWebhookView.as_view(),
        name="azure-monitor-webhook",
    ),
]
