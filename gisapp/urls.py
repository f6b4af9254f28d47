"""URL map of one-net map: each feature's folder owns its own URLs."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from layers.widgets import basemap

from . import openapi, views

admin.site.site_header = _("一网统管电子地图 · 管理后台")
admin.site.site_title = _("一网统管管理后台")
admin.site.index_title = _("数据管理")

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("api/openapi.json", openapi.openapi_json, name="openapi"),
    # The admin map widget's background (roads, boundaries … from our database), staff only.
    path("admin/basemap.geojson", admin.site.admin_view(basemap), name="admin-basemap"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/auth/", include("gisapp.accounts.urls")),
    path("ogcapi/", include("layers.ogcapi.urls")),
    path("api/", include("geocoding.urls")),
    path("api/boundaries/", include("boundaries.urls")),
    path("", include("cases.urls")),
    path("", include("frontend.urls")),  # the map pages: / (public) and /dispatch/
]

handler404 = "gisapp.views.not_found"
handler500 = "gisapp.views.server_error"
