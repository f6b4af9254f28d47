from django.urls import path

from . import api, campaigns, live, open311, public

urlpatterns = [
    path("api/cases", api.cases, name="cases"),
    path("api/cases/overdue", api.overdue, name="cases-overdue"),
    path("api/cases/stream", live.stream, name="cases-stream"),
    path("api/cases/stats", api.stats, name="cases-stats"),
    path("api/cases/<str:number>", api.case_detail, name="case-detail"),
    path("api/cases/<str:number>/transitions", api.transitions, name="case-transitions"),
    path("api/cases/<str:number>/attachments", api.upload_attachment, name="case-attachments"),
    path("api/cases/<str:number>/attachments/<int:pk>", api.attachment, name="case-attachment"),
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
