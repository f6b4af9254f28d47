"""URL map of one-net map: each feature's folder owns its own URLs."""

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/auth/", include("gisapp.accounts.urls")),
    path("ogcapi/", include("layers.ogcapi.urls")),
]
