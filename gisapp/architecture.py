"""The rooms of the project and which of them each may import (docs/ARCHITECTURE.md draws it).

Dependencies point one way, from the pages down to the project's infrastructure; a room below never
imports one above, not even lazily inside a function, so that a change upstairs cannot break what lies
below it.  `forbidden_imports` reads the source (ast) rather than importing it, which finds imports in
function bodies too; tests/test_architecture.py runs it over the tree.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each room and the rooms it may import besides itself (Django, the standard library and PyPI are free).
MAY_IMPORT: dict[str, set[str]] = {
    "gisapp": set(),
    "layers": {"gisapp"},
    "tiles": {"gisapp", "layers"},
    "geocoding": {"gisapp", "layers"},
    "cases": {"gisapp", "layers", "geocoding"},
    "boundaries": {"gisapp", "layers", "geocoding"},
    "field": {"gisapp", "layers", "geocoding", "cases"},
    "frontend": {"gisapp", "layers", "tiles", "geocoding", "cases", "boundaries", "field"},
    "onboarding": {"gisapp", "layers", "geocoding", "cases", "boundaries"},
    "fixtures": {"gisapp", "layers", "tiles", "geocoding", "cases", "boundaries", "field", "onboarding"},
}

# The project's composition: the modules that wire every room into one server (URLs, ASGI, the API's
# routers, the admin of accounts drawing departments on the layers' map widget).  They sit above all.
COMPOSITION = {
    "gisapp/urls.py",
    "gisapp/asgi.py",
    "gisapp/api.py",
    "gisapp/accounts/admin.py",
}


def _imported_rooms(source: str) -> Iterator[tuple[int, str, str]]:
    """(line, room, module) for every absolute import of a project room in `source`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            room = name.split(".")[0]
            if room in MAY_IMPORT:
                yield node.lineno, room, name


def forbidden_imports(room: str, relpath: str, source: str) -> list[str]:
    """The imports in one file of `room` that the dependency order forbids, as 'path:line imports module'."""
    if relpath in COMPOSITION:
        return []
    allowed = MAY_IMPORT[room] | {room}
    return [
        f"{relpath}:{line} imports {module}"
        for line, imported, module in _imported_rooms(source)
        if imported not in allowed
    ]


def violations(root: Path = ROOT) -> list[str]:
    """Every forbidden import in the project's rooms."""
    found: list[str] = []
    for room in MAY_IMPORT:
        for path in sorted((root / room).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            relpath = path.relative_to(root).as_posix()
            found.extend(forbidden_imports(room, relpath, path.read_text(encoding="utf-8")))
    return found
