"""Durability: a phone that retries, a server that dies mid-stream or a database that fails half-way loses
nothing, duplicates nothing and leaves no half-written rows.

- The crash test runs its own uvicorn on the test database, streams reports with Idempotency-Keys from
  two threads, kills the server with SIGKILL in the middle, starts a new one and re-sends everything not
  acknowledged with the same keys: every acknowledged report exists exactly once, with its first trail
  event, and so does every report at all.
- Every create honours an Idempotency-Key (drafts, operations, publish, batch jobs, campaigns, cases,
  Open311), concurrently too: five identical requests at once make one draft.
- Multi-row changes are one transaction: a failure injected by a PostgreSQL trigger in the middle of a
  publish, a merge, a close with merged duplicates or a batch import leaves nothing of it behind.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from server_helpers import free_port, start_server

from cases.models import Case

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------ a server
def _forget_cases(dsn: str, where: str, params: list) -> None:
    """Remove cases the test filed over HTTP (committed), trails included (the trail's append-only guard
    is lifted for this one transaction)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set constraints all immediate")
        conn.execute("alter table cases_caseevent disable trigger cases_event_append_only")
        ids = f"(select id from cases_case where {where})"
        conn.execute(f"delete from cases_attachment where case_id in {ids}", params)
        conn.execute(f"delete from cases_caseevent where case_id in {ids}", params)
        conn.execute(f"delete from cases_case where {where}", params)
        conn.execute("alter table cases_caseevent enable trigger cases_event_append_only")


def _inside_points(n: int) -> list[tuple[float, float]]:
    with connection.cursor() as cur:
        cur.execute("select st_x(point), st_y(point) from layers_building order by id limit %s", [n])
        return cur.fetchall()


# ------------------------------------------------------------------------------------------ the crash
def test_no_acknowledged_report_is_lost_or_doubled_when_the_server_is_killed(test_database_url):
    run = uuid.uuid4().hex[:8]
    keys = [f"durability-{run}-{i:04d}" for i in range(240)]
    points = _inside_points(len(keys))
    bodies = {
        k: {"category": "SJ0101", "description": f"durability {k}", "location": {"lon": x, "lat": y}}
        for k, (x, y) in zip(keys, points, strict=True)
    }
    acked: dict[str, str] = {}  # key → case number the server acknowledged
    lock = threading.Lock()
    port = free_port()
    server = start_server(test_database_url, port)
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{base}/api/auth/token", json={"username": "worker", "password": "onenet-demo"}
    ).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    try:

        def stream(mine: list[str]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
                for key in mine:
                    try:
                        r = http.post("/api/cases", json=bodies[key], headers={"Idempotency-Key": key})
                    except httpx.TransportError:
                        return  # the server is gone: the rest is "not acknowledged"
                    if r.status_code in (200, 201):
                        with lock:
                            acked[key] = r.json()["number"]

        threads = [threading.Thread(target=stream, args=(keys[i::2],)) for i in range(2)]
        for t in threads:
            t.start()
        while len(acked) < 60:  # mid-stream: some acknowledged, some in flight, most not sent yet
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        for t in threads:
            t.join(timeout=30)
        assert 60 <= len(acked) < len(keys)
        before_restart = dict(acked)

        server = start_server(test_database_url, port)
        replayed = 0
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for key in keys:
                if key in before_restart:
                    continue
                r = http.post("/api/cases", json=bodies[key], headers={"Idempotency-Key": key})
                assert r.status_code in (200, 201), r.text
                replayed += r.status_code == 200  # it had been stored before the crash, unacknowledged
                acked[key] = r.json()["number"]
            # A resend of an acknowledged report answers the same case, not a new one
            some = keys[0] if keys[0] in before_restart else next(iter(before_restart))
            again = http.post("/api/cases", json=bodies[some], headers={"Idempotency-Key": some})
            assert again.status_code == 200 and again.json()["number"] == before_restart[some]

        with psycopg.connect(test_database_url) as conn:
            rows = conn.execute(
                "select idempotency_key, number, (select count(*) from cases_caseevent e "
                "where e.case_id = c.id and e.action = 'report') from cases_case c "
                "where idempotency_key like %s",
                [f"durability-{run}-%"],
            ).fetchall()
        stored: dict[str, list[str]] = {}
        for key, number, report_events in rows:
            stored.setdefault(key, []).append(number)
            assert report_events == 1, f"{number} has {report_events} report events"
        assert all(len(v) == 1 for v in stored.values()), "a report was stored twice"
        assert {k: v[0] for k, v in stored.items()} == acked  # every report exactly once, as acknowledged
        assert set(stored) == set(keys)
        print(f"acknowledged before the kill: {len(before_restart)}, stored but unacknowledged: {replayed}")
    finally:
        server.kill()
        server.wait(timeout=10)
        _forget_cases(test_database_url, "idempotency_key like %s", [f"durability-{run}-%"])


# ------------------------------------------------------------------------------------------ keys
def _post(client, url: str, body: object, key: str | None = None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def _community() -> str:
    with connection.cursor() as cur:
        cur.execute("select code from layers_adminunit where level = 'community' order by code limit 1")
        return cur.fetchone()[0]


def test_a_draft_is_created_once_per_key(client):
    from boundaries.models import Draft

    client.force_login(User.objects.get(username="planner"))
    body = {"net": "comprehensive", "area": _community(), "note": "key"}
    first = _post(client, "/api/boundaries/drafts", body, "draft-key-1")
    again = _post(client, "/api/boundaries/drafts", body, "draft-key-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Draft.objects.filter(note="key").count() == 1
    # The same key for a different request is a client bug, said so
    other = _post(client, "/api/boundaries/drafts", {**body, "note": "other"}, "draft-key-1")
    assert other.status_code == 422 and other.json()["error"]["en"]
    # Keys are per user: another planner's identical key is another request
    client.force_login(User.objects.create_user("planner-2"))
    from gisapp.accounts.models import Profile

    Profile.objects.create(
        user=User.objects.get(username="planner-2"),
        role="planner",
        jurisdiction_code=User.objects.get(username="planner").profile.jurisdiction_code,
    )
    theirs = _post(client, "/api/boundaries/drafts", body, "draft-key-1")
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    # A refusal is not remembered: after fixing the request the same key works
    client.force_login(User.objects.get(username="planner"))
    bad = _post(client, "/api/boundaries/drafts", {"net": "nonsense", "area": _community()}, "draft-key-2")
    assert bad.status_code == 422
    good = _post(client, "/api/boundaries/drafts", {"net": "nonsense", "area": _community()}, "draft-key-2")
    assert good.status_code == 422  # same body, same refusal, still nothing stored
    assert _post(client, "/api/boundaries/drafts", body | {"note": "fixed"}, "draft-key-3").status_code == 201


def test_an_operation_is_applied_once_per_key(client):
    from boundaries.models import Draft, Operation
    from boundaries.testing import adjacent, live_shapes

    client.force_login(User.objects.get(username="planner"))
    draft = _post(client, "/api/boundaries/drafts", {"net": "comprehensive", "area": _community()}).json()
    shapes = live_shapes(Draft.objects.get(pk=draft["id"]))
    a, b = next(iter(adjacent(shapes)))
    body = {"op": "merge", "grids": [a, b], "keep": a}
    url = f"/api/boundaries/drafts/{draft['id']}/operations"
    first = _post(client, url, body, "op-key-1")
    assert first.status_code == 200, first.content
    again = _post(client, url, body, "op-key-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert Operation.objects.filter(draft_id=draft["id"]).count() == 1


def test_batch_jobs_campaigns_and_cases_are_created_once_per_key(client):
    from cases.models import Campaign
    from geocoding.models import GeocodeJob

    dispatcher = User.objects.get(username="dispatcher")
    client.force_login(dispatcher)
    jobs = GeocodeJob.objects.count()
    for _ in range(2):
        r = client.post(
            "/api/geocode/batch",
            data="address\n学士街1号\n",
            content_type="text/csv",
            HTTP_IDEMPOTENCY_KEY="job-key-1",
        )
        assert r.status_code == 202
    assert GeocodeJob.objects.count() == jobs + 1

    body = {"name": "创安一号", "area_code": _community()[:9], "checklist": ["燃气"]}
    ids = {_post(client, "/api/campaigns", body, "campaign-key-1").json()["id"] for _ in range(2)}
    assert len(ids) == 1 and Campaign.objects.filter(pk__in=ids).count() == 1

    ((x, y),) = _inside_points(1)
    report = {"category": "SJ0101", "location": {"lon": x, "lat": y}}
    numbers = {_post(client, "/api/cases", report, "case-key-1").json()["number"] for _ in range(2)}
    assert len(numbers) == 1
    # Someone else's key is not a way to read their case
    client.force_login(User.objects.get(username="worker"))
    stolen = _post(client, "/api/cases", report, "case-key-1")
    assert stolen.status_code == 422 and "number" not in stolen.json()


def test_open311_requests_are_filed_once_per_key(client):
    from fixtures.loader import DEMO_OPEN311_KEY

    ((x, y),) = _inside_points(1)
    form = {"api_key": DEMO_OPEN311_KEY, "service_code": "SJ0101", "lat": y, "long": x}
    numbers = set()
    for _ in range(2):
        r = client.post("/open311/v2/requests.json", form, HTTP_IDEMPOTENCY_KEY="o311-key-1")
        assert r.status_code in (200, 201), r.content
        numbers.add(r.json()[0]["service_request_id"])
    assert len(numbers) == 1
    # Namespaced per client: the stored key is not the client's text
    assert not Case.objects.filter(idempotency_key="o311-key-1").exists()


def test_concurrent_retries_make_one_draft(app_server, test_database_url):
    """Five identical requests at once (a phone's retries overlapping): one draft, five identical answers."""
    token = httpx.post(
        f"{app_server}/api/auth/token", json={"username": "planner", "password": "onenet-demo"}
    )
    headers = {"Authorization": f"Bearer {token.json()['token']}", "Idempotency-Key": f"race-{uuid.uuid4()}"}
    note = f"race {uuid.uuid4().hex}"
    body = {"net": "comprehensive", "area": _community(), "note": note}

    def send(_):
        return httpx.post(f"{app_server}/api/boundaries/drafts", json=body, headers=headers, timeout=60)

    try:
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(send, range(5)))
        assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        with psycopg.connect(test_database_url) as conn:
            assert (
                conn.execute("select count(*) from boundaries_draft where note = %s", [note]).fetchone()[0]
                == 1
            )
    finally:
        with psycopg.connect(test_database_url) as conn:
            ids = "(select id from boundaries_draft where note = %s)"
            conn.execute(f"delete from boundaries_draftgrid where draft_id in {ids}", [note])
            conn.execute("delete from boundaries_draft where note = %s", [note])
            conn.execute(
                "delete from idempotency_idempotentrequest where scope = 'boundary-draft' and "
                "owner_id = (select id from auth_user where username = 'planner')"
            )


# ------------------------------------------------------------------------------------------ transactions
def _fail_on(table: str, when: str) -> None:
    """A real failure in the middle of a change: a trigger that raises when a row matching `when` is
    written to `table` (created inside the test's transaction, so it disappears with it)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            create or replace function pg_temp.durability_boom() returns trigger language plpgsql as $$
            begin raise exception 'injected failure'; end $$
            """
        )
        cur.execute(
            f"create trigger durability_boom before insert or update on {table} for each row "
            f"when ({when}) execute function pg_temp.durability_boom()"
        )


def _snapshot() -> dict:
    with connection.cursor() as cur:
        cur.execute(
            """select (select count(*) from cases_case), (select count(*) from cases_caseevent),
                      (select md5(string_agg(id || ':' || status || version || grid_code, ',' order by id))
                       from cases_case),
                      (select md5(string_agg(id || ':' || grid_code, ',' order by id)) from layers_building),
                      (select md5(string_agg(id || ':' || coalesce(generation_high, -1), ',' order by id))
                       from layers_grid),
                      (select md5(string_agg(id || ':' || status, ',' order by id)) from layers_generation),
                      (select count(*) from layers_servicestation)"""
        )
        return dict(
            zip(
                ["cases", "events", "case_rows", "buildings", "grids", "generations", "stations"],
                cur.fetchone(),
                strict=True,
            )
        )


@pytest.mark.parametrize(
    "table, when",
    [
        ("layers_building", "true"),  # half-way: moving buildings to their new grids
        ("boundaries_boundarychange", "true"),  # the very last write: the audit record
    ],
)
def test_a_failure_during_publish_leaves_the_boundaries_as_they_were(client, table, when):
    from test_boundaries import _split_busiest, busy_community, open_draft

    from boundaries.models import Draft
    from boundaries.publish import publish

    planner = User.objects.get(username="planner")
    client.force_login(planner)
    community = busy_community()
    draft = open_draft(client, community.code)
    _split_busiest(client, draft["id"], community)
    before = _snapshot()
    _fail_on(table, when)
    with pytest.raises(DatabaseError, match="injected failure"):
        publish(Draft.objects.get(pk=draft["id"]), planner, "失败注入 injected failure")
    assert _snapshot() == before
    assert Draft.objects.get(pk=draft["id"]).status != "published"


def _open_pair() -> tuple[Case, Case]:
    """Two open cases a dispatcher may merge (same category, both reported)."""
    cases = list(
        Case.objects.filter(status="reported", geom__isnull=False).exclude(grid_code="").order_by("id")[:2]
    )
    assert len(cases) == 2
    return cases[0], cases[1]


def test_a_failure_while_merging_leaves_both_cases_as_they_were(client):
    from cases.services import apply_transition

    dispatcher = User.objects.get(username="dispatcher")
    dup, master = _open_pair()
    before = _snapshot()
    _fail_on("cases_caseevent", "new.action = 'merge'")
    with pytest.raises(DatabaseError, match="injected failure"):
        apply_transition(dup.number, "merge", {"into": master.number, "reason": "重复"}, dispatcher)
    assert _snapshot() == before
    dup.refresh_from_db()
    assert dup.status == "reported" and dup.duplicate_of_id is None


def test_a_failure_while_closing_a_case_with_merged_duplicates_changes_none_of_them():
    from cases.services import apply_transition

    dispatcher = User.objects.get(username="dispatcher")
    dup, master = _open_pair()
    apply_transition(dup.number, "merge", {"into": master.number, "reason": "重复"}, dispatcher)
    # The loop up to "handled": registered and dispatched to the grid, accepted and handled by its worker
    worker = User.objects.get(username=f"gw{master.grid_code}")
    apply_transition(master.number, "register", {}, dispatcher)
    apply_transition(master.number, "dispatch", {"assignee": {"level": "grid"}}, dispatcher)
    apply_transition(master.number, "accept", {}, worker)
    apply_transition(master.number, "handle", {"result": "已清理"}, worker)
    master.refresh_from_db()
    assert master.status == "handled"
    before = _snapshot()
    _fail_on("cases_caseevent", "new.action = 'outcome'")  # the merged reporters' notes, after the close
    with pytest.raises(DatabaseError, match="injected failure"):
        apply_transition(master.number, "close", {}, dispatcher)
    assert _snapshot() == before


def test_a_failure_in_the_middle_of_a_batch_import_files_no_case(tmp_path):
    points = _inside_points(5)
    lines = ["category,lon,lat,description"] + [f"SJ0101,{x},{y},row {i}" for i, (x, y) in enumerate(points)]
    path = tmp_path / "cases.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    before = _snapshot()
    _fail_on("cases_case", "new.description = 'row 3'")
    with pytest.raises(DatabaseError, match="injected failure"):
        call_command("import_cases", str(path), "--quiet")
    assert _snapshot() == before


def test_a_failure_in_the_middle_of_a_layer_import_imports_nothing(tmp_path):
    points = _inside_points(5)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"name": f"驿站{i}", "kind": "网格驿站", "hours": "8:00-20:00", "is_public": "是"},
        }
        for i, (x, y) in enumerate(points)
    ]
    path = tmp_path / "stations.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    before = _snapshot()
    _fail_on("layers_servicestation", "new.name = '驿站3'")
    with pytest.raises(CommandError, match="nothing was written: injected failure"):
        call_command("import_layer", "service-stations", str(path), "--quiet")
    assert _snapshot() == before
