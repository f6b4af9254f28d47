from django.urls import path

from . import api

urlpatterns = [
    path("me", api.me, name="field-me"),
    path("checkins", api.checkins, name="field-checkins"),
    path("patrols/points", api.patrol_points, name="field-patrol-points"),
    path("patrols/today", api.patrols_today, name="field-patrols-today"),
]
