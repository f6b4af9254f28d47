"""URLs of the boundary-draft API (mounted at /api/boundaries/)."""

from django.urls import path

from . import views

app_name = "boundaries"

urlpatterns = [
    path("drafts", views.drafts, name="drafts"),
    path("drafts/<int:draft_id>", views.draft_detail, name="draft"),
    path("drafts/<int:draft_id>/grids", views.draft_grids, name="grids"),
    path("drafts/<int:draft_id>/operations", views.draft_operations, name="operations"),
    path("drafts/<int:draft_id>/validation", views.draft_validation, name="validation"),
    path("drafts/<int:draft_id>/impact", views.draft_impact, name="impact"),
    path("drafts/<int:draft_id>/publish", views.draft_publish, name="publish"),
    path("drafts/<int:draft_id>/undo", views.draft_undo, name="undo"),
    path("drafts/<int:draft_id>/units", views.draft_units, name="units"),
    path("drafts/<int:draft_id>/edge", views.draft_edge, name="edge"),
    path("drafts/import", views.draft_import, name="import"),
    path("proposals", views.proposals_create, name="proposals"),
    path("proposals/<str:proposal_id>", views.proposal_detail, name="proposal"),
    path("generations", views.generation_list, name="generations"),
    path("generations/compare", views.generation_compare, name="compare"),
    path("generations/<int:number>", views.generation_grids, name="generation"),
    path("generations/<int:number>/export", views.generation_export, name="export"),
]
