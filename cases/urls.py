from django.urls import path

from . import campaigns, live, open311, public

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

urlpatterns += [
    path("api/campaigns", campaigns.campaigns, name="campaigns"),
    path("api/campaigns/<int:pk>", campaigns.campaign_detail, name="campaign"),
    path("api/campaigns/<int:pk>/progress", campaigns.campaign_progress, name="campaign-progress"),
    path("api/campaigns/<int:pk>/map", campaigns.campaign_map, name="campaign-map"),
]

# The public map's reports (anonymous, rate-limited) and their public status by receipt number (issue 7)
urlpatterns += [
    path("api/public/reports", public.reports, name="public-reports"),
    path("api/public/reports/<str:number>", public.report_status, name="public-report-status"),
]
