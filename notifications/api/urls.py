from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import IncidentNotificationListView, NotificationChannelViewSet, NotificationRuleViewSet

app_name = "notifications-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("notification-channels", NotificationChannelViewSet, basename="channel")
router.register("notification-rules", NotificationRuleViewSet, basename="rule")

urlpatterns = [
    *router.urls,
    path(
        "incidents/<str:number>/notifications/",
        IncidentNotificationListView.as_view(),
        name="incident-notifications",
    ),
]
