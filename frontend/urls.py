from django.urls import path

from . import views

# The pages' JSON reads (frontend/api.py) and situation maps (frontend/situation.py) are ninja routers,
# mounted by gisapp/api.py.
urlpatterns = [
    path("", views.public_map, name="public-map"),
    path("dispatch/", views.dispatch, name="dispatch"),
    path("field/", views.field, name="field"),
    path("field/sw.js", views.field_sw, name="field-sw"),
    path("planner/", views.planner, name="planner"),
]
