"""The spatial data model of the one-net map, one module per theme."""

from .admin import AdminLevel, AdminUnit
from .basemap import Green, Road, Water
from .buildings import Address, Building, BuildingUse, HouseUnit, Resident, SpecialGroup
from .grids import Generation, GenerationStatus, Grid, GridKind, GridWorker, Net
from .patrols import CheckIn, Patrol, PatrolPoint
from .places import PartyOrganisation, ServiceStation

__all__ = [
    "Address",
    "AdminLevel",
    "AdminUnit",
    "Building",
    "BuildingUse",
    "CheckIn",
    "Generation",
    "GenerationStatus",
    "Green",
    "Grid",
    "GridKind",
    "GridWorker",
    "HouseUnit",
    "Net",
    "PartyOrganisation",
    "Patrol",
    "PatrolPoint",
    "Resident",
    "Road",
    "ServiceStation",
    "SpecialGroup",
    "Water",
]
