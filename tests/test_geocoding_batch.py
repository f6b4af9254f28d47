"""Batch geocoding: the API (CSV, JSON, multipart GBK files, 100k rows), the job lifecycle (progress,
ownership, resume after a dead worker), the management command, and the real background thread under
uvicorn."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from geocoding.testing import geocoder_ready  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("geocoder_ready")]


@pytest.fixture
def inline(settings):
    """Run jobs inside the request: the test transaction is invisible to another thread's connection."""
    settings.GEOCODE_BATCH_INLINE = True


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("batch-tester", password="x-batch-pass-1")


@pytest.fixture
def addresses():
    from layers.models import Building

    return list(Building.objects.order_by("id").values_list("address", "id")[:40:4])


def read_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel opens UTF-8 with a BOM
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def run(client, body, content_type, query="") -> dict:
    r = client.post(f"/api/geocode/batch{query}", data=body, content_type=content_type)
    assert r.status_code == 202, r.content
    job = r.json()["job"]
    status = client.get(job["links"]["self"]).json()["job"]
    assert status["status"] == "done" and status["done"] == status["total"] and status["progress"] == 1.0
    return status


def test_csv_batch_one_row_per_input_row_in_order(client, inline, user, addresses):
    client.force_login(user)
    rows = [["id", "地址"]]
    rows += [[f"A{i}", a] for i, (a, _) in enumerate(addresses)]
    rows += [["BAD1", "😀😀"], ["BAD2", ""], ["BAD3", "火星基地七号"], ["DUP", addresses[0][0]]]
    body = "\n".join(",".join(r) for r in rows)
    status = run(client, body, "text/csv")
    assert status["total"] == len(rows) - 1 and status["matched"] == len(addresses) + 1
    out = read_csv(client.get(status["links"]["result"]))
    assert [r["id"] for r in out] == [r[0] for r in rows[1:]]
    assert [r["row"] for r in out] == [str(i) for i in range(1, len(rows))]
    for r, (_a, bid) in zip(out, addresses, strict=False):
        assert r["status"] == "ok" and r["building_id"] == str(bid) and len(r["grid_code"]) == 15
        assert r["grid_police"] and r["community_code"] == r["grid_code"][:12]
    by_id = {r["id"]: r for r in out}
    assert by_id["BAD1"]["status"] == "invalid" and "emoji" in by_id["BAD1"]["reason"]
    assert by_id["BAD2"]["status"] == "invalid" and by_id["BAD2"]["reason"]
    assert by_id["BAD3"]["status"] == "not_found" and by_id["BAD3"]["reason"]
    assert by_id["DUP"]["building_id"] == by_id["A0"]["building_id"]


def test_json_batch_and_output_crs(client, inline, user, addresses):
    client.force_login(user)
    status = run(client, json.dumps([a for a, _ in addresses]), "application/json", "?crs=GCJ02")
    out = read_csv(client.get(status["links"]["result"]))
    assert len(out) == len(addresses) and status["crs"] == "GCJ02"
    from geocoding import crs
    from layers.models import Building

    b = Building.objects.get(pk=addresses[0][1])
    gx, gy = (float(v) for v in crs.wgs84_to_gcj02(b.point.x, b.point.y))
    assert abs(float(out[0]["lon"]) - gx) < 1e-7 and abs(float(out[0]["lat"]) - gy) < 1e-7


def test_json_objects_keep_their_fields(client, inline, user, addresses):
    client.force_login(user)
    data = {"addresses": [{"case": f"AJ{i}", "address": a} for i, (a, _) in enumerate(addresses[:3])]}
    status = run(client, json.dumps(data, ensure_ascii=False), "application/json")
    out = read_csv(client.get(status["links"]["result"]))
    assert [r["case"] for r in out] == ["AJ0", "AJ1", "AJ2"]


def test_gbk_spreadsheet_as_multipart_file(client, inline, user, addresses):
    client.force_login(user)
    text = "编号,事发地址\r\n" + "".join(f"{i},{a}\r\n" for i, (a, _) in enumerate(addresses))
    upload = SimpleUploadedFile("complaints.csv", text.encode("gbk"), content_type="text/csv")
    r = client.post("/api/geocode/batch", {"file": upload, "column": "事发地址"})
    assert r.status_code == 202
    out = read_csv(client.get(r.json()["job"]["links"]["result"]))
    assert [r["building_id"] for r in out] == [str(bid) for _, bid in addresses]


def test_hundred_thousand_rows(client, inline, user, addresses):
    """≥100k rows are accepted and come back one for one (repeated addresses are geocoded once)."""
    client.force_login(user)
    n = 100_000
    body = "address\n" + "\n".join(addresses[i % len(addresses)][0] for i in range(n))
    status = run(client, body, "text/csv")
    assert status["total"] == n and status["matched"] == n
    out = read_csv(client.get(status["links"]["result"]))
    assert len(out) == n and out[-1]["row"] == str(n)
    assert out[n - 1]["building_id"] == str(addresses[(n - 1) % len(addresses)][1])


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        ("", "text/csv", 400),
        ("a,b\n1,2\n", "text/csv", 400),  # no address column
        ("address\n", "text/csv", 400),  # header only
        ("{not json", "application/json", 400),
        ('{"x": 1}', "application/json", 400),
        ("[1, 2]", "application/json", 400),
    ],
)
def test_bad_uploads(client, user, body, content_type, status):
    client.force_login(user)
    r = client.post("/api/geocode/batch", data=body, content_type=content_type)
    assert r.status_code == status and r.json()["error"]["en"]


def test_too_many_rows(client, user, settings):
    settings.GEOCODE_BATCH_MAX_ROWS = 10
    client.force_login(user)
    r = client.post("/api/geocode/batch", data="address\n" + "学士街1号\n" * 11, content_type="text/csv")
    assert r.status_code == 413


def test_batch_needs_a_login_and_jobs_are_private(client, inline, user, django_user_model, addresses):
    assert client.post("/api/geocode/batch", data="address\nx\n", content_type="text/csv").status_code == 401
    client.force_login(user)
    status = run(client, "address\n" + addresses[0][0], "text/csv")
    other = django_user_model.objects.create_user("someone-else", password="x-other-pass-1")
    client.force_login(other)
    assert client.get(status["links"]["self"]).status_code == 404
    assert client.get(status["links"]["result"]).status_code == 404
    assert client.get("/api/geocode/batch/not-a-uuid").status_code == 404


def test_result_before_done_is_409_and_delete_cancels(client, user, addresses):
    from geocoding import batch, crs
    from geocoding.models import GeocodeJob

    client.force_login(user)
    job = batch.create_job(["address"], [[a] for a, _ in addresses], 0, crs.parse_crs(None), user)
    r = client.get(f"/api/geocode/batch/{job.id}/result.csv")
    assert r.status_code == 409 and r.json()["job"]["status"] == "queued"
    assert client.delete(f"/api/geocode/batch/{job.id}").status_code == 200
    assert not GeocodeJob.objects.filter(pk=job.id).exists()


def test_a_dead_workers_job_is_taken_over_and_resumed(user, addresses, monkeypatch):
    from geocoding import batch, crs
    from geocoding.models import GeocodeJob, JobStatus

    monkeypatch.setattr(batch, "CHUNK", 3)
    job = batch.create_job(["address"], [[a] for a, _ in addresses], 0, crs.parse_crs(None), user)
    assert batch.claim_next().pk == job.pk
    # the worker stored one chunk, then its process died
    out, matched = batch.process_rows(job.rows[:3], 0, crs.parse_crs(None), batch.net_codes(), 0)
    job.chunks.create(
        index=0,
        csv=batch.to_csv([["row", "address", *batch.result_columns(batch.net_codes())], *out]),
        rows=3,
        matched=matched,
    )
    assert batch.claim_next() is None  # still beating
    GeocodeJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert batch.claim_next().pk == job.pk
    batch.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.done == len(addresses)
    assert list(job.chunks.values_list("index", flat=True)) == list(range((len(addresses) + 2) // 3))
    text = "".join(batch.result_text(job)).lstrip("\ufeff")
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(addresses)


def test_management_command(tmp_path, addresses):
    src = tmp_path / "in.csv"
    src.write_text(
        "id,address\n" + "".join(f"{i},{a}\n" for i, (a, _) in enumerate(addresses)) + "x,😀\n",
        encoding="utf-8",
    )
    dst = tmp_path / "out.csv"
    call_command("geocode_batch", str(src), str(dst), "--no-progress", stdout=io.StringIO())
    out = list(csv.DictReader(io.StringIO(dst.read_text(encoding="utf-8-sig"))))
    assert len(out) == len(addresses) + 1
    assert [r["building_id"] for r in out[:-1]] == [str(bid) for _, bid in addresses]
    assert out[-1]["status"] == "invalid"


def test_management_command_refuses_bad_arguments(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("geocode_batch", str(tmp_path / "missing.csv"), str(tmp_path / "out.csv"))
    src = tmp_path / "in.csv"
    src.write_text("address\n学士街1号\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("geocode_batch", str(src), str(tmp_path / "out.csv"), "--crs", "EPSG:1")


def test_background_thread_under_uvicorn(app_server):
    """The real path: a job created over HTTP is worked by the server's background thread."""

    def call(method, path, data=None, token=None, ctype="application/json"):
        req = urllib.request.Request(app_server + path, data=data, method=method)
        req.add_header("Content-Type", ctype)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, body = call(
        "POST", "/api/auth/token", json.dumps({"username": "dispatcher", "password": "onenet-demo"}).encode()
    )
    assert status == 200, body
    token = json.loads(body)["token"]
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("select address from layers_building order by id limit 5")
        addrs = [r[0] for r in cur.fetchall()]
    status, body = call(
        "POST", "/api/geocode/batch", "\n".join(["address", *addrs]).encode("utf-8"), token, "text/csv"
    )
    assert status == 202, body
    job = json.loads(body)["job"]
    try:
        deadline = time.monotonic() + 60
        while True:
            status, body = call("GET", job["links"]["self"], token=token)
            state = json.loads(body)["job"]
            if state["status"] == "done" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert state["status"] == "done" and state["matched"] == 5
        status, body = call("GET", job["links"]["result"], token=token)
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert [r["matched_address"] for r in rows] == addrs
    finally:
        call("DELETE", job["links"]["self"], token=token)
