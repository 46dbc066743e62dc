from rest_framework.routers import DefaultRouter

from .views import ConfigurationItemViewSet

app_name = "cmdb-api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("configuration-items", ConfigurationItemViewSet, basename="configuration-item")

urlpatterns = router.urls
