"""URLs of the OGC API – Features endpoint (mounted at /ogcapi/); trailing slashes are tolerated."""

from django.urls import path, re_path

from . import views

app_name = "ogcapi"

urlpatterns = [
    path("", views.landing, name="landing"),
    re_path(r"^api/?$", views.api, name="api"),
    re_path(r"^conformance/?$", views.conformance, name="conformance"),
    re_path(r"^collections/?$", views.collections, name="collections"),
    re_path(r"^collections/(?P<collection_id>[^/]+)/?$", views.collection, name="collection"),
    re_path(r"^collections/(?P<collection_id>[^/]+)/items/?$", views.items, name="items"),
    re_path(r"^collections/(?P<collection_id>[^/]+)/items/(?P<fid>[^/]+)/?$", views.item, name="item"),
    # Anything else under /ogcapi/ is a JSON 404 too, not Django's HTML page.
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
