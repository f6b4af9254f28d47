from django.urls import path

from . import api, situation, views

urlpatterns = [
    path("", views.public_map, name="public-map"),
    path("dispatch/", views.dispatch, name="dispatch"),
    path("field/", views.field, name="field"),
    path("field/sw.js", views.field_sw, name="field-sw"),
    path("planner/", views.planner, name="planner"),
    path("api/map/areas/", api.area, name="map-area-root"),
    path("api/map/areas/<str:code>", api.area, name="map-area"),
    path("api/map/cases.geojson", api.cases_geojson, name="map-cases"),
    path("api/map/indicators/people", api.indicators_people, name="map-people"),
    path("api/map/indicators/events", api.indicators_events, name="map-events"),
    path("api/map/indicators/operations", api.indicators_operations, name="map-operations"),
    path("api/map/cases/<str:number>/suggestion", api.suggestion, name="map-suggestion"),
    path("api/map/departments", api.departments, name="map-departments"),
    path("api/map/categories", api.categories, name="map-categories"),
    path("api/map/export/grid/<str:code>.html", situation.export_grid, name="map-export-grid"),
    path("api/map/export/case/<str:number>.html", situation.export_case, name="map-export-case"),
    path("api/public/nearby", api.nearby, name="public-nearby"),
]
