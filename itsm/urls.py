from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, reverse_lazy
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from integrations.views import dev_jwks
from itsm.views import SchemaView, healthz

LOGIN_URL = reverse_lazy("admin:login")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("dev/jwks.json", dev_jwks, name="dev-jwks"),
    path("api/", include("integrations.api.urls")),
    path("api/", include("incidents.api.urls")),
    path("api/", include("cmdb.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Pages for people: sign in through the admin first (they use its session).
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="schema"), login_url=LOGIN_URL),
        name="swagger-ui",
    ),
    path(
        "api/redoc/",
        login_required(SpectacularRedocView.as_view(url_name="schema"), login_url=LOGIN_URL),
        name="redoc",
    ),
]

# Under /api/, unknown URLs and crashes answer JSON like every other API error.
handler404 = "itsm.views.page_not_found"
handler500 = "itsm.views.server_error"
