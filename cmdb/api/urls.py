from django.urls import URLPattern

app_name = "cmdb-api"

# /api/configuration-items/ is served by the incidents app (incidents.api.urls), which
# extends the CMDB's endpoint (cmdb.api.views) with what it knows of each CI.
urlpatterns: list[URLPattern] = []
