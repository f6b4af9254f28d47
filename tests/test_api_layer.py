"""The API layer (gisapp.apikit, gisapp.api): the generated OpenAPI document and the shared refusals."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

NO_BODY = {"POST /api/boundaries/drafts/{draft_id}/undo"}  # takes back the last step: nothing to send
TAGS = {"accounts", "cases", "field", "geocoding", "pages", "boundaries", "open311"}


@pytest.fixture(scope="module")
def doc(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any violation of the OpenAPI 3.1 specification


def test_every_operation_has_summary_tag_schemas_and_errors(doc):
    declared = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            declared += 1
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert op.get("tags") and op["tags"][0] in TAGS, where
            ok = [c for c in op["responses"] if c.startswith("2")]
            if path.endswith(".html"):  # a standalone page, downloaded: its 200 is HTML
                assert "text/html" in op["responses"]["200"]["content"], where
            assert ok and all(op["responses"][c].get("content") for c in ok), where
            errors = [c for c in op["responses"] if c[0] in "45"]
            assert {"400", "503"} <= set(errors), where
            for code in errors:
                schema = op["responses"][code]["content"]["application/json"]["schema"]
                if path.startswith("/open311/"):  # GeoReport's error list in the path's format
                    assert "text/xml" in op["responses"][code]["content"], where
                    assert {"$ref": "#/components/schemas/Error"} in schema["oneOf"], where
                else:
                    assert schema == {"$ref": "#/components/schemas/Error"}, where
            if method in ("post", "put", "patch") and where not in NO_BODY:
                assert "requestBody" in op, where
    assert declared >= 55
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "error"}


def test_swagger_ui_is_served_from_local_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/openapi.json" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources), sources  # no CDN
    assert any(s.endswith("swagger-ui-bundle.js") for s in sources)


def test_a_schema_refusal_is_bilingual_and_names_the_field(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.get(username="dispatcher"))
    r = client.get("/api/cases?limit=0")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 400 and body["field"] == "limit"
    assert body["error"]["zh"] and "limit" in body["error"]["en"]
    r = client.get("/api/cases?limt=5")  # a typo is refused by name, not ignored
    assert r.status_code == 400 and "limt" in r.json()["error"]["en"]
    client.logout()
    token = client.post(
        "/api/auth/token",
        {"username": "dispatcher", "password": "onenet-demo"},
        content_type="application/json",
    ).json()["token"]
    r = client.post(
        "/api/cases/AJ1/transitions",
        json.dumps({"transition": "accept", "version": "3"}),  # a string is not taken for a number
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert r.status_code == 400 and r.json()["field"] == "version", r.content


def test_a_method_an_api_path_does_not_take_is_a_json_405(client):
    r = client.delete("/api/field/patrols/today")
    assert r.status_code == 405 and r["Allow"] == "GET" and r.json()["error"]["en"] == "use GET"
