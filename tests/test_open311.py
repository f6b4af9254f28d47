"""Open311 GeoReport v2: our own checks in-process, then unmodified third-party clients over HTTP."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import psycopg
import pytest

from cases.models import Case, Category
from layers.models import Building

pytestmark = pytest.mark.django_db
KEY = "onenet-demo-key"


@pytest.fixture
def where():
    b = Building.objects.order_by("id").first()
    return b.point.y, b.point.x  # lat, long


def test_services_json_and_xml(client):
    services = client.get("/open311/v2/services.json").json()
    leaves = Category.objects.filter(parent__isnull=False).count()
    assert len(services) == leaves
    assert {"service_code", "service_name", "group", "metadata", "type"} <= set(services[0])
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services" and len(xml.findall("service")) == leaves
    assert client.get("/open311/v2/services.yaml").status_code == 404


def test_file_and_read_a_request(client, where):
    lat, long = where
    before = Case.objects.count()
    refused = client.post("/open311/v2/requests.json", {"service_code": "SJ0101", "lat": lat, "long": long})
    assert refused.status_code == 403 and refused.json()[0]["code"] == 403
    r = client.post(
        "/open311/v2/requests.json",
        {
            "api_key": KEY,
            "service_code": "SJ0101",
            "lat": lat,
            "long": long,
            "description": "路边有垃圾",
            "phone": "10012345678",
        },
    )
    assert r.status_code == 201, r.content
    number = r.json()[0]["service_request_id"]
    assert Case.objects.count() == before + 1
    case = Case.objects.get(number=number)
    assert case.channel == "open311" and case.grid_code
    read = client.get(f"/open311/v2/requests/{number}.json").json()[0]
    assert read["status"] == "open" and read["service_code"] == "SJ0101"
    assert abs(read["lat"] - lat) < 1e-9 and "10012345678" not in str(read)
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml").content)
    assert xml.find("request/service_request_id").text == number
    assert xml.find("request/status").text == "open"


@pytest.mark.parametrize(
    "form, status",
    [
        ({"service_code": "NOPE", "lat": 46.58, "long": 125.95}, 400),
        ({"service_code": "SJ0101"}, 400),
        ({"service_code": "SJ0101", "lat": 39.9, "long": 116.4}, 422),
        ({"service_code": "SJ0101", "lat": "abc", "long": 125.95}, 400),
    ],
)
def test_bad_requests_are_refused(client, form, status):
    before = Case.objects.count()
    r = client.post("/open311/v2/requests.xml", {"api_key": KEY, **form})
    assert r.status_code == status
    assert ET.fromstring(r.content).find("error/description").text
    assert Case.objects.count() == before


def test_public_reads_show_only_public_channels(client):
    internal = Case.objects.filter(channel="hotline").order_by("-reported_at").first()
    assert client.get(f"/open311/v2/requests/{internal.number}.json").status_code == 404
    assert client.get(f"/open311/v2/requests/{internal.number}.json?api_key={KEY}").status_code == 200
    listed = client.get("/open311/v2/requests.json?status=closed").json()
    assert listed and all(r["status"] == "closed" for r in listed)
    assert client.get("/open311/v2/requests.json?start_date=yesterday").status_code == 400


def _forget(dsn: str, number: str) -> None:
    """Remove a case filed over HTTP (committed) so reruns start from the same city.  The trail is
    append-only, so its guard is lifted for this one transaction; every other trigger (tile clusters)
    still runs, so derived tables stay in step."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set constraints all immediate")
        conn.execute("alter table cases_caseevent disable trigger cases_event_append_only")
        conn.execute(
            "delete from cases_caseevent where case_id = (select id from cases_case where number = %s)",
            [number],
        )
        conn.execute("delete from cases_case where number = %s", [number])
        conn.execute("alter table cases_caseevent enable trigger cases_event_append_only")


def test_unmodified_open311_clients(app_server, test_database_url, where):
    from civicbot.open311 import Open311Client
    from civicbot.registry import Endpoint
    from georeport import GeoReport

    lat, long = where
    endpoint = Endpoint(id="onenet", name="one-net map", base_url=f"{app_server}/open311/v2", write=True)
    client = Open311Client(endpoint)
    codes = {s["service_code"] for s in client.list_services()}
    assert "SJ0101" in codes
    sent = client.create_request(
        "SJ0101",
        dry_run=False,
        confirm="SEND",
        api_key=KEY,
        lat=lat,
        lng=long,
        description="井盖旁有垃圾",
        known_services=client.list_services(),
    )
    number = sent.response[0]["service_request_id"]
    try:
        assert client.get_request(number)["status"] == "open"
        xml_reader = GeoReport(f"{app_server}/open311/v2", output_format="xml")
        assert xml_reader.get_service_request(number)["status"] == "open"
        json_reader = GeoReport(f"{app_server}/open311/v2")
        assert any(
            r["service_request_id"] == number
            for r in json_reader.get_service_requests(service_request_id=number)
        )
    finally:
        _forget(test_database_url, number)
