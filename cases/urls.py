from django.urls import path

from . import live, open311

# The case API itself is a ninja router (cases/api.py, mounted by gisapp/api.py); the live stream comes
# first, before its /api/cases/{number}.
urlpatterns = [
    path("api/cases/stream", live.stream, name="cases-stream"),
]

# Open311 GeoReport v2 (the format is part of the path, as the spec requires: requests.json / requests.xml)
urlpatterns += [
    path("open311/v2/services.<str:fmt>", open311.services, name="open311-services"),
    path("open311/v2/requests.<str:fmt>", open311.requests_, name="open311-requests"),
    path("open311/v2/requests/<str:number>.<str:fmt>", open311.request_detail, name="open311-request"),
]
