"""Personal data: masked by default, in clear only through layers.masking.reveal, one audit row per clear
read, and never in public tiles, logs or error messages."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test import Client

from cases.models import Case
from cases.open311 import PUBLIC_CHANNELS
from gisapp.accounts.models import PersonalDataAccess
from layers.masking import mask_birth_date, mask_id_number, mask_name, mask_phone, mask_tags, masked, reveal
from layers.models import GridWorker, Resident

pytestmark = pytest.mark.django_db
CONTACT = "10055556666"


@pytest.fixture
def case(db) -> Case:
    """A case in the demo worker's grid, dispatched to department 1, with a reporter contact."""
    grid = User.objects.get(username="worker").profile.jurisdiction_code
    # not a case the public may look up by number (Open311): the anonymous probe below must be refused
    mine = Case.objects.filter(grid_code=grid, geom__isnull=False).exclude(channel__in=PUBLIC_CHANNELS)
    c = mine.order_by("id").first()
    Case.objects.filter(pk=c.pk).update(
        status="dispatched", assignee_level="department", department_id=1, reporter_contact=CONTACT
    )
    return Case.objects.get(pk=c.pk)


def _client(username: str | None) -> Client:
    c = Client()
    if username:
        c.force_login(User.objects.get(username=username))
    return c


def test_masks_hide_enough():
    import datetime as dt

    assert mask_name("欧阳明月") == "欧**" and mask_name("") == ""
    assert mask_id_number("990102198001011234") == "990102********1234"
    assert mask_phone("10012345678") == "100****5678"
    assert mask_birth_date(dt.date(1980, 1, 2)) == "1980-**-**"
    assert mask_tags(["low_income"]) == "***" and mask_tags([]) == ""


def test_unmasked_read_writes_exactly_one_row_and_a_masked_read_none(case):
    dispatcher = _client("dispatcher")
    before = PersonalDataAccess.objects.count()
    body = dispatcher.get(f"/api/cases/{case.number}").json()
    assert body["reporter_contact"] == mask_phone(CONTACT)
    assert PersonalDataAccess.objects.count() == before  # masked: no row
    reply = dispatcher.get(
        f"/api/cases/{case.number}?unmask=reporter_contact",
        HTTP_USER_AGENT="audit-test",
        REMOTE_ADDR="10.1.2.3",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert reply.status_code == 200 and reply.json()["reporter_contact"] == CONTACT
    assert PersonalDataAccess.objects.count() == before + 1
    row = PersonalDataAccess.objects.order_by("-id").first()
    assert (row.username, row.role, row.model, row.object_id) == (
        "dispatcher",
        "dispatcher",
        "cases.Case",
        str(case.pk),
    )
    assert row.fields == ["reporter_contact"] and row.purpose == "api:case-detail"
    assert row.object_label == case.number and CONTACT not in row.object_label
    assert (row.method, row.remote_addr, row.user_agent, row.request_id) == (
        "GET",
        "10.1.2.3",
        "audit-test",
        "req-42",
    )
    assert row.path == f"/api/cases/{case.number}?unmask=reporter_contact"


def test_refused_unmask_writes_no_row(case):
    before = PersonalDataAccess.objects.count()
    for user in ("planner", "leader", f"gw{case.grid_code}"):
        assert _client(user).get(f"/api/cases/{case.number}?unmask=reporter_contact").status_code == 403
    assert _client("dispatcher").get(f"/api/cases/{case.number}?unmask=name").status_code == 400
    assert PersonalDataAccess.objects.count() == before


def test_the_assignee_may_call_the_reporter_back(case):
    reply = _client("department").get(f"/api/cases/{case.number}?unmask=reporter_contact")
    assert reply.status_code == 200 and reply.json()["reporter_contact"] == CONTACT
    assert PersonalDataAccess.objects.filter(username="department", object_id=str(case.pk)).count() == 1


def test_admin_change_form_of_a_resident_is_audited_and_the_list_is_not(db):
    admin = _client("admin")
    person = Resident.objects.order_by("id").first()
    before = PersonalDataAccess.objects.count()
    listing = admin.get("/admin/layers/resident/")
    assert listing.status_code == 200 and person.id_number not in listing.content.decode()
    assert PersonalDataAccess.objects.count() == before
    form = admin.get(f"/admin/layers/resident/{person.pk}/change/")
    assert form.status_code == 200 and person.id_number in form.content.decode()
    row = PersonalDataAccess.objects.order_by("-id").first()
    assert PersonalDataAccess.objects.count() == before + 1
    assert (row.model, row.object_id, row.purpose) == ("layers.Resident", str(person.pk), "admin:change")
    assert set(row.fields) == set(Resident.personal_fields) and person.name not in row.object_label


def test_admin_lists_grid_workers_masked_and_audits_their_form(db):
    admin = _client("admin")
    worker = GridWorker.objects.exclude(phone="").order_by("id").first()
    listing = admin.get("/admin/layers/gridworker/").content.decode()
    assert re.search(r"100\*{4}\d{4}", listing) and not re.search(r"(?<!\d)100\d{8}(?!\d)", listing)
    before = PersonalDataAccess.objects.count()
    assert admin.get(f"/admin/layers/gridworker/{worker.pk}/change/").status_code == 200
    assert PersonalDataAccess.objects.count() == before + 1


def test_the_audit_is_read_only(case):
    _client("dispatcher").get(f"/api/cases/{case.number}?unmask=reporter_contact")
    row = PersonalDataAccess.objects.order_by("-id").first()
    for statement in (
        "update accounts_personaldataaccess set username = 'x' where id = %s",
        "delete from accounts_personaldataaccess where id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(statement, [row.pk])
    admin = _client("admin")
    assert admin.get("/admin/accounts/personaldataaccess/").status_code == 200
    assert admin.get(f"/admin/accounts/personaldataaccess/{row.pk}/change/").status_code == 200
    assert admin.post(f"/admin/accounts/personaldataaccess/{row.pk}/delete/").status_code == 403
    assert admin.get("/admin/accounts/personaldataaccess/add/").status_code == 403
    assert _client("dispatcher").get("/admin/accounts/personaldataaccess/").status_code == 302


def test_reveal_is_the_only_way_and_checks_the_policy(case, rf):
    from django.core.exceptions import PermissionDenied

    request = rf.get("/x")
    request.user = User.objects.get(username="leader")
    with pytest.raises(PermissionDenied):
        reveal(request, case, ["reporter_contact"], "test")
    request.user = User.objects.get(username="dispatcher")
    with pytest.raises(ValueError):
        reveal(request, case, ["description"], "test")  # not a declared personal field
    assert masked(case) == {"reporter_contact": mask_phone(CONTACT)}


def test_impact_of_a_redraw_masks_grid_workers_names(db):
    from boundaries.impact import people

    worker = GridWorker.objects.order_by("id").first()
    out = people({"retired": [{"code": worker.grid_code, "successors": []}], "new": []})
    names = {w["id"]: w["name"] for w in out["grid_workers"]}
    assert names[worker.pk] == mask_name(worker.name) != worker.name


# ------------------------------------------------------------------------------------------ leaks
def _personal_values(limit: int = 2000) -> set[str]:
    """Residents' ID numbers and phones, unpublished grid workers' phones, reporters' contacts."""
    values = set()
    for id_number, phone in Resident.objects.order_by("id").values_list("id_number", "phone")[:limit]:
        values |= {id_number, phone}
    values |= set(GridWorker.objects.filter(publish_contact=False).values_list("phone", flat=True)[:limit])
    values |= set(
        Case.objects.exclude(reporter_contact="").values_list("reporter_contact", flat=True)[:limit]
    )
    return {v for v in values if v and len(v) >= 8}


def test_no_personal_data_in_public_tiles(app_server, db):
    """Every public layer over the demo worker's grid at z15 (full attributes) and z12, anonymously."""
    from tiles_helpers import http, merc_tile, tile_path

    from layers.registry import LAYERS

    grid = User.objects.get(username="worker").profile.jurisdiction_code
    with connection.cursor() as cur:
        cur.execute(
            "select st_x(st_pointonsurface(geom_3857)), st_y(st_pointonsurface(geom_3857)) "
            "from layers_grid where code = %s and generation_high is null limit 1",
            [grid],
        )
        mx, my = cur.fetchone()
    personal = _personal_values()
    public = ",".join(s.id for s in LAYERS.values() if s.public)
    seen = 0
    for z in (12, 15):
        x, y = merc_tile(mx, my, z)
        for dx in (-1, 0, 1):
            reply = http(app_server, tile_path(public, z, x + dx, y))
            assert reply.status in (200, 204)
            for layer in reply.layers().values():
                for f in layer["features"]:
                    for value in f["properties"].values():
                        seen += 1
                        assert str(value) not in personal, (z, value)
    assert seen > 100


def test_no_personal_data_in_logs_or_error_messages(case, caplog):
    """Refusals and bad input about a case with a reporter contact: the contact appears in no answer and
    in no log line, whatever the level."""
    caplog.set_level(logging.DEBUG)
    anonymous, planner = _client(None), _client("planner")
    outside = _client("gw990102002001001")  # a grid worker of another street
    answers = [
        anonymous.get(f"/api/cases/{case.number}?unmask=reporter_contact"),
        planner.get(f"/api/cases/{case.number}?unmask=reporter_contact"),
        outside.get(f"/api/cases/{case.number}"),
        planner.post(f"/api/cases/{case.number}/transitions", data="{}", content_type="application/json"),
        planner.post(
            "/api/cases",
            data='{"category": "nope", "contact": "10099998888"}',
            content_type="application/json",
        ),
        anonymous.post(
            "/api/public/reports",
            data='{"category": "nope", "contact": "10099998888"}',
            content_type="application/json",
        ),
        anonymous.get(f"/open311/v2/requests/{case.number}.json"),
    ]
    for reply in answers:
        assert 400 <= reply.status_code < 500, reply.status_code
        text = reply.content.decode()
        assert CONTACT not in text and "10099998888" not in text, text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CONTACT not in logged and "10099998888" not in logged
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", logged)
