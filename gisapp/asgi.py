"""ASGI entry point: uvicorn serves this in `./gis up` and in docker-compose.

A small router in front of Django: `/tiles/…` goes to the tile server (tiles.server), an async hot path
with its own connection pool and no per-request middleware or ORM; everything else goes to Django.  The
router also answers the ASGI lifespan protocol (Django does not), so the tile pool and its LISTEN
connection open at start-up and close cleanly at shutdown.  In front of both, a request body over the
size limit is answered 413 before anything buffers it (gisapp.limits).  docs/TILES.md explains the choice.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
django_application = get_asgi_application()

from gisapp.limits import body_limit  # noqa: E402
from tiles.server import TileServer  # noqa: E402  (needs the apps loaded by get_asgi_application)

tile_server = TileServer()


async def route(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/tiles/"):
        await tile_server(scope, receive, send)
    elif scope["type"] == "lifespan":
        await tile_server.lifespan(receive, send)
    else:
        await django_application(scope, receive, send)


# Bodies over the limit are refused before Django spools them (gisapp.limits).
application = body_limit(route)
