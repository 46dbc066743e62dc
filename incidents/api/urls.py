from django.urls import path
from rest_framework.routers import DefaultRouter

from .assignment_groups import AssignmentGroupViewSet
from .configuration_items import ConfigurationItemViewSet
from .sla import SlaTargetViewSet
from .views import ConfigurationItemIncidentViewSet, IncidentViewSet

app_name = "incidents-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("incidents", IncidentViewSet, basename="incident")
# The CMDB's endpoint, with what this app knows of each CI (has_open_incidents).
router.register("configuration-items", ConfigurationItemViewSet, basename="configuration-item")
router.register("assignment-groups", AssignmentGroupViewSet, basename="assignment-group")
router.register("sla-targets", SlaTargetViewSet, basename="sla-target")

urlpatterns = [
    *router.urls,
    path(
        "configuration-items/<int:configuration_item_id>/incidents/",
        ConfigurationItemIncidentViewSet.as_view({"get": "list"}),
        name="configuration-item-incidents",
    ),
]
