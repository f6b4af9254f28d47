"""The project's one NinjaAPI: every app's router mounted, /api/openapi.json generated, /api/docs.

Composition (docs/ARCHITECTURE.md): this module imports every app's router and so stands above them;
the plumbing the routers share is gisapp.apikit.  Swagger UI is served from django-ninja's own static
files (no CDN: "ninja" is an installed app, so its templates take them from STATIC_URL).
"""

from __future__ import annotations

from ninja import NinjaAPI, Swagger

from . import apikit

TITLE = "one-net map API · 一网统管电子地图接口"


class OneNetAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> dict:
        doc = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for item in doc["paths"].values():
            if "get" in item:
                item.pop("head", None)  # HEAD is GET without the body (RFC 9110): one operation, one id
        return doc


api = OneNetAPI(
    title=TITLE,
    version="1",
    description="The JSON APIs of one-net map. Errors: `{code, error: {zh, en}}` with the reason in Chinese "
    "and English. Internal operations take a bearer token (POST /api/auth/token) or the pages' session.",
    openapi_url="api/openapi.json",
    docs_url="api/docs",
    docs=Swagger(settings={"persistAuthorization": True}),
    urls_namespace="api",
    parser=apikit.JsonParser(),
    renderer=apikit.Renderer(),
)
apikit.install(api)


def _mount() -> None:
    from boundaries.api import router as boundaries
    from cases.api import router as cases
    from cases.campaigns import router as campaigns
    from cases.open311 import router as open311
    from cases.public import router as public
    from field.api import router as field
    from frontend.api import public as pages_public
    from frontend.api import router as pages
    from frontend.situation import router as situation
    from geocoding.api import router as geocoding
    from gisapp.accounts.api import router as accounts

    api.add_router("api/auth/", accounts)
    api.add_router("api/cases", cases)
    api.add_router("api/campaigns", campaigns)
    api.add_router("api/public/", public)
    api.add_router("open311/v2/", open311)
    api.add_router("api/field/", field)
    api.add_router("api/boundaries/", boundaries)
    api.add_router("api/", geocoding)
    api.add_router("api/map/", pages)
    api.add_router("api/map/export/", situation)
    api.add_router("api/public/", pages_public)


_mount()
