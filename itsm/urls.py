from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from core.metrics import metrics_view
from core.views import SchemaView, healthz, readyz
from integrations.views import dev_jwks

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("dev/jwks.json", dev_jwks, name="dev-jwks"),
    path("api/", include("integrations.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/", include("cmdb.api.urls")),
    path("api/", include("notifications.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Served by the app (no internet needed); "Try it out" uses the admin's session.
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

# Under /api/, unknown URLs and crashes answer JSON like every other API error.
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
