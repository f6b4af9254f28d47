from django.urls import path

from . import views

urlpatterns = [
    path("geocode", views.geocode, name="geocode"),
    path("reverse", views.reverse_view, name="reverse"),
    path("geocode/batch", views.batch_create, name="geocode-batch"),
    path("geocode/batch/<str:job_id>", views.batch_detail, name="geocode-batch-detail"),
    path("geocode/batch/<str:job_id>/result.csv", views.batch_result, name="geocode-batch-result"),
]
