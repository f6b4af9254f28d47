from django.apps import AppConfig


class FieldConfig(AppConfig):
    """Grid workers' field work: check-ins, patrols and the field page's API (the tracks' tables are
    spatial data and live in layers.models)."""

    name = "field"
    verbose_name = "网格员外业 Field work"
