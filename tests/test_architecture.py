"""The dependency order of docs/ARCHITECTURE.md, checked on the source: pages → apps → layers → gisapp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gisapp.architecture import MAY_IMPORT, ROOT, forbidden_imports, violations


def test_no_room_imports_a_room_above_it():
    assert violations() == []


@pytest.mark.parametrize(
    ("room", "source"),
    [
        ("layers", "from cases.services import relations\n"),
        ("layers", "def later():\n    from field.services import today_summary\n"),  # lazy, in a body
        ("cases", "import frontend.api\n"),
        ("geocoding", "from frontend import views\n"),
        ("field", "from frontend.api import area\n"),
        ("gisapp", "from layers.models import Grid\n"),
        ("tiles", "from cases.models import Case\n"),
    ],
)
def test_a_forbidden_import_added_to_a_room_fails_the_check(tmp_path: Path, room: str, source: str):
    """The same check over a copy of the room with one forbidden import added: it names the file and line."""
    shutil.copytree(
        ROOT / room, tmp_path / room, ignore=shutil.ignore_patterns("node_modules", "__pycache__")
    )
    assert violations(tmp_path) == []
    (tmp_path / room / "added.py").write_text("import json\n\n" + source, encoding="utf-8")
    found = violations(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{room}/added.py:"), found


def test_the_allowed_imports_of_the_issue_hold():
    """Issue 16's rules: nothing of layers into cases, geocoding, field or frontend (they sit above it),
    nothing of cases or geocoding into frontend; and the order has no cycle."""
    for upper in ("cases", "geocoding", "field", "frontend"):
        assert upper not in MAY_IMPORT["layers"]
    for lower in ("cases", "geocoding"):
        assert "frontend" not in MAY_IMPORT[lower]
    assert forbidden_imports("cases", "cases/x.py", "from geocoding.geocoder import geocode\n") == []

    def reaches(start: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for room in MAY_IMPORT[start]:
            assert room not in seen | {start}, f"cycle through {start} → {room}"
            out |= {room} | reaches(room, seen | {start})
        return out

    for room in MAY_IMPORT:
        assert room not in reaches(room)
