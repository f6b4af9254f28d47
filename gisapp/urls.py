"""URL map of one-net map: each feature's folder owns its own URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from layers.widgets import basemap

from . import views
from .api import api

admin.site.site_header = _("一网统管电子地图 · 管理后台")
admin.site.site_title = _("一网统管管理后台")
admin.site.index_title = _("数据管理")

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # The admin map widget's background (roads, boundaries … from our database), staff only.
    path("admin/basemap.geojson", admin.site.admin_view(basemap), name="admin-basemap"),
    path("admin/", admin.site.urls),
    # Log in and out, change one's own password; no password reset: it mails a link, and a closed
    # network has no mail (the administrator resets passwords in the admin).
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("ogcapi/", include("layers.ogcapi.urls")),
    path("", include("frontend.urls")),  # the map pages: / (public) and /dispatch/
    # The JSON APIs declared with django-ninja (gisapp/api.py), /api/openapi.json and /api/docs among them;
    # last, so that its root view does not answer for the public map at /.
    path("", api.urls),
]

handler404 = "gisapp.views.not_found"
handler500 = "gisapp.views.server_error"
