"""API tokens, demo accounts and the one jurisdiction mechanism (gisapp.accounts.jurisdiction.scope)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from cases.models import Case
from gisapp.accounts.jurisdiction import covers, jurisdiction_of, prefix_for_code, scope
from gisapp.accounts.models import ApiToken, Profile, Role, hash_token
from layers.models import AdminUnit, Building
from layers.registry import LAYERS

PASSWORD = "onenet-demo"
TOKEN_URL = "/api/auth/token"
CASES = "/ogcapi/collections/cases/items"


def post_json(client, body: object | str):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(TOKEN_URL, data, content_type="application/json")


def assert_reason(response, status: int) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["zh"] and error["en"]


# --- the token endpoint ---------------------------------------------------------------------------


def test_token_from_a_json_body(client, db):
    response = post_json(client, {"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 200
    doc = response.json()
    assert doc["token_type"] == "Bearer" and doc["expires_in"] > 0
    assert len(doc["token"]) >= 32
    # Only the hash is stored, never the token itself.
    assert ApiToken.objects.filter(key_hash=hash_token(doc["token"])).exists()
    assert not ApiToken.objects.filter(key_hash=doc["token"]).exists()


def test_token_from_a_form_body(client, db):
    response = client.post(TOKEN_URL, {"username": "worker", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "dispatcher", "password": "wrong"},
        {"username": "nobody-here", "password": PASSWORD},
    ],
)
def test_wrong_credentials_are_401(client, db, body):
    assert_reason(post_json(client, body), 401)
    assert_reason(client.post(TOKEN_URL, body), 401)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "dispatcher"},
        {"password": PASSWORD},
        {"username": "", "password": ""},
        {"username": 1, "password": 2},
        {"username": ["dispatcher"], "password": PASSWORD},
    ],
)
def test_missing_fields_are_400(client, db, body):
    assert_reason(post_json(client, body), 400)


def test_missing_form_fields_are_400(client, db):
    assert_reason(client.post(TOKEN_URL, {"username": "dispatcher"}), 400)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "\xff\xfe"])
def test_malformed_json_is_400(client, db, raw):
    assert_reason(post_json(client, raw), 400)


def test_token_endpoint_is_post_only(client, db):
    assert client.get(TOKEN_URL).status_code == 405


# --- bearer tokens --------------------------------------------------------------------------------


def _token(client, username: str) -> str:
    return client.post(TOKEN_URL, {"username": username, "password": PASSWORD}).json()["token"]


def test_bearer_token_authenticates(client, db):
    token = _token(client, "dispatcher")
    assert client.get(CASES, {"limit": 1}, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(CASES, {"limit": 1}, headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert client.get(CASES, {"limit": 1}).status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer garbage", "Bearer ", "Bearer", "Basic ZGlzcGF0Y2hlcjpvbmVuZXQtZGVtbw=="]
)
def test_garbage_tokens_are_anonymous(client, db, header):
    assert client.get(CASES, headers={"Authorization": header}).status_code == 401


def test_expired_token_is_anonymous(client, db):
    user = User.objects.get(username="dispatcher")
    raw = "expired-token-for-the-test-0123456789"
    expired = timezone.now() - timezone.timedelta(minutes=1)
    ApiToken.objects.create(user=user, key_hash=hash_token(raw), expires_at=expired)
    assert client.get(CASES, headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_token_of_a_deactivated_user_is_anonymous(client, db):
    token = _token(client, "dispatcher")
    User.objects.filter(username="dispatcher").update(is_active=False)
    assert client.get(CASES, headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- demo accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["dispatcher", "worker", "planner", "department", "leader", "admin"])
def test_demo_users_exist_and_log_in_in_demo_mode(client, db, username):
    user = User.objects.select_related("profile").get(username=username)
    assert user.profile.is_demo
    assert client.login(username=username, password=PASSWORD)


def test_demo_users_are_refused_outside_demo_mode(client, db, settings):
    settings.DEMO_MODE = False
    assert_reason(post_json(client, {"username": "dispatcher", "password": PASSWORD}), 401)
    assert not client.login(username="dispatcher", password=PASSWORD)
    # A real account still works.
    real = User.objects.create_user("real-dispatcher", password="a-real-password-1")
    Profile.objects.create(
        user=real,
        role=Role.DISPATCHER,
        jurisdiction_code=User.objects.get(username="dispatcher").profile.jurisdiction_code,
    )
    response = post_json(client, {"username": "real-dispatcher", "password": "a-real-password-1"})
    assert response.status_code == 200


def test_tokens_issued_in_demo_mode_stop_working_outside_it(client, db, settings):
    token = _token(client, "dispatcher")
    settings.DEMO_MODE = False
    # A token is a demo credential too: it must not outlive demo mode.
    assert client.get(CASES, {"limit": 1}, headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- jurisdiction.scope ---------------------------------------------------------------------------


def _user(username: str) -> User:
    return User.objects.select_related("profile").get(username=username)


def test_worker_scope_is_their_grid(db):
    worker = _user("worker")
    code = worker.profile.jurisdiction_code
    assert len(code) == 15
    cases = scope(Case.objects.all(), worker)
    assert cases.exists()
    assert set(cases.values_list("grid_code", flat=True).distinct()) == {code}
    assert cases.count() == Case.objects.filter(grid_code=code).count()
    buildings = scope(Building.objects.all(), worker)
    assert buildings.count() == Building.objects.filter(grid_code=code).count() > 0
    assert covers(worker, code)
    other = Case.objects.exclude(grid_code=code).values_list("grid_code", flat=True).first()
    assert not covers(worker, other)


def test_dispatcher_scope_is_the_district(db):
    dispatcher = _user("dispatcher")
    district = AdminUnit.objects.get(code=dispatcher.profile.jurisdiction_code)
    assert district.level == "district"
    cases = scope(Case.objects.all(), dispatcher)
    assert cases.count() == Case.objects.filter(grid_code__startswith=district.code).count()
    assert cases.count() > scope(Case.objects.all(), _user("worker")).count()
    assert not cases.exclude(grid_code__startswith=district.code).exists()


def test_admin_scope_is_everything(db):
    admin = _user("admin")
    assert jurisdiction_of(admin).everything
    assert scope(Case.objects.all(), admin).count() == Case.objects.count()


def test_user_without_profile_sees_nothing_unless_superuser(db):
    plain = User.objects.create_user("no-profile", password="x-password-123")
    assert scope(Case.objects.all(), plain).count() == 0
    assert not covers(plain, Case.objects.values_list("grid_code", flat=True).first())
    boss = User.objects.create_superuser("root-no-profile", password="x-password-123")
    assert scope(Case.objects.all(), boss).count() == Case.objects.count()


def test_anonymous_and_inactive_users_see_nothing(db):
    assert scope(Case.objects.all(), AnonymousUser()).count() == 0
    assert scope(Case.objects.all(), None).count() == 0
    dispatcher = _user("dispatcher")
    dispatcher.is_active = False
    assert scope(Case.objects.all(), dispatcher).count() == 0


def test_scope_refuses_models_without_a_jurisdiction(db):
    with pytest.raises(TypeError):
        scope(AdminUnit.objects.all(), _user("admin"))


def test_city_code_covers_its_districts():
    assert prefix_for_code("230600") == "2306"
    assert prefix_for_code("230602") == "230602"
    assert prefix_for_code("230602001") == "230602001"


def test_registry_layers_use_scope_for_non_public_rows(db):
    assert LAYERS["cases"].visible_to(AnonymousUser()) is None
    worker = _user("worker")
    assert LAYERS["cases"].visible_to(worker).count() == scope(Case.objects.all(), worker).count()
