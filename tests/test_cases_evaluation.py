"""Evaluation (rates and rankings, CSV/XLSX) and special campaigns."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from cases.models import CampaignProgress, Case
from gisapp.accounts.models import Profile
from layers.models import Grid

pytestmark = pytest.mark.django_db


def login(client, username: str) -> dict:
    token = client.post("/api/auth/token", {"username": username, "password": "onenet-demo"}).json()["token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_street_ranking_matches_a_hand_count(client):
    auth = login(client, "dispatcher")
    body = client.get("/api/cases/stats?group=street&since=2025-01-01&until=2030-01-01", **auth).json()
    rows = body["rows"]
    assert len(rows) >= 8 and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    rates = [(r["on_time_rate"] or 0) for r in rows]
    assert rates == sorted(rates, reverse=True)
    top = rows[0]
    cases = Case.objects.filter(grid_code__startswith=top["unit"])
    assert top["received"] == cases.count()
    closed = cases.filter(closed_at__isnull=False).exclude(status__in=["rejected", "merged"])
    assert top["closed"] == closed.count()
    assert 0 < top["closure_rate"] <= 1 and 0 < top["on_time_rate"] <= top["closure_rate"]
    assert top["name"].endswith(("街道", "镇"))


def test_exports_csv_and_xlsx(client):
    auth = login(client, "dispatcher")
    r = client.get("/api/cases/stats?group=community&format=csv&since=2025-01-01", **auth)
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) >= 30 and rows[0]["rank"] == "1"
    x = client.get("/api/cases/stats?group=department&format=xlsx&since=2025-01-01", **auth)
    sheet = load_workbook(io.BytesIO(x.content)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["unit", "name", "received"] and sheet.max_row >= 3


def test_a_worker_is_evaluated_on_their_grid_only(client):
    auth = login(client, "worker")
    grid = Profile.objects.get(user__username="worker").jurisdiction_code
    rows = client.get("/api/cases/stats?group=grid&since=2025-01-01", **auth).json()["rows"]
    assert [r["unit"] for r in rows] == [grid]


@pytest.mark.parametrize(
    "query", ["group=planet", "since=notatime", "format=pdf", "since=2030-01-01&until=2020-01-01"]
)
def test_bad_stats_queries(client, query):
    assert client.get(f"/api/cases/stats?{query}", **login(client, "dispatcher")).status_code == 400


def test_campaign_reaches_every_grid_and_counts_progress(client):
    dispatcher = login(client, "dispatcher")
    worker_grid = Profile.objects.get(user__username="worker").jurisdiction_code
    street = worker_grid[:9]
    r = client.post(
        "/api/campaigns",
        {
            "name": "创安一号：燃气隐患排查",
            "area_code": street,
            "checklist": ["入户检查燃气管道", "张贴安全提示", "登记隐患"],
        },
        content_type="application/json",
        **dispatcher,
    )
    assert r.status_code == 201, r.content
    campaign = r.json()
    grids = Grid.objects.current().filter(net__code="comprehensive", code__startswith=street).count()
    assert campaign["grids"] == grids == CampaignProgress.objects.filter(campaign_id=campaign["id"]).count()
    worker = login(client, "worker")
    done = client.post(
        f"/api/campaigns/{campaign['id']}/progress",
        {"grid_code": worker_grid, "done": [0, 1, 2]},
        content_type="application/json",
        **worker,
    ).json()
    assert done["grids_done"] == 1 and done["by_grid"][worker_grid] == [0, 1, 2]
    other = (
        Grid.objects.current()
        .filter(net__code="comprehensive", code__startswith=street)
        .exclude(code=worker_grid)
        .first()
    )
    refused = client.post(
        f"/api/campaigns/{campaign['id']}/progress",
        {"grid_code": other.code, "done": [0]},
        content_type="application/json",
        **worker,
    )
    assert refused.status_code == 403
    geo = client.get(f"/api/campaigns/{campaign['id']}/map", **dispatcher).json()
    progress = {f["properties"]["code"]: f["properties"]["progress"] for f in geo["features"]}
    assert progress[worker_grid] == 1.0 and progress[other.code] == 0


def test_campaign_outside_jurisdiction_is_refused(client):
    worker = login(client, "worker")
    r = client.post(
        "/api/campaigns",
        {"name": "x", "area_code": "990102", "checklist": ["a"]},
        content_type="application/json",
        **worker,
    )
    assert r.status_code == 403
