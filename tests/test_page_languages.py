"""Each map page, used in Chinese and then switched to English, shows no Chinese outside names (places,
addresses, people, organisations, the reporter's own words), and in Chinese never a raw enum code."""

from __future__ import annotations

import re

import httpx
import pytest
from django.contrib.auth.models import User
from test_pages import PASSWORD, api, chromium, file_case, filed, wait_ready  # noqa: F401 - fixtures

from boundaries.models import Draft
from cases.models import Case
from cases.models.case import Channel
from gisapp.accounts.models import Department, Role
from layers.models import AdminUnit, Building, Generation, Grid, GridWorker, ServiceStation
from layers.models.basemap import Road

pytestmark = pytest.mark.django_db(transaction=False)

HAN = re.compile(r"[\u3400-\u9fff]")
# What is left of an address once its road and estate names are taken out: door, building, unit, room.
ADDRESS_PARTS = re.compile(r"\d+\s*(号楼|号|栋|幢|单元|室|层)")
# The visible text of the page (text nodes and the attributes a user reads), one string per node.
VISIBLE_TEXT = r"""() => { const out = [];
  const shown = (e) => { const st = getComputedStyle(e);
    return st.display !== 'none' && st.visibility !== 'hidden' && e.getClientRects().length > 0; };
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (w.nextNode()) { const n = w.currentNode; const t = n.nodeValue.trim();
    if (t && !n.parentElement.closest('script,style,template') && shown(n.parentElement)) out.push(t); }
  for (const e of document.querySelectorAll('[placeholder],[title],[aria-label]'))
    for (const a of ['placeholder', 'title', 'aria-label'])
      if (e.getAttribute(a) && shown(e)) out.push(e.getAttribute(a));
  return out; }"""


@pytest.fixture(scope="module")
def names(django_db_blocker) -> list[str]:
    """Every proper name the pages may show, longest first (so that a street's name goes before the
    district's inside it); plus the one word that must stay Chinese: the toggle's "中文"."""
    with django_db_blocker.unblock():
        found = {"中文"}
        for model, fields in [
            (AdminUnit, ["name"]),
            (Grid, ["name"]),
            (ServiceStation, ["name", "address"]),
            (Department, ["name"]),
            (GridWorker, ["name"]),
            (Road, ["name"]),
            (Building, ["estate", "address"]),
            (Generation, ["note"]),
            (Case, ["description", "address"]),
        ]:
            for field in fields:
                found.update(v for v in model.objects.values_list(field, flat=True).distinct() if v)
    return sorted(found, key=len, reverse=True)


def chinese_left(texts: list[str], names: list[str]) -> list[str]:
    left = []
    for text in texts:
        if not HAN.search(text):
            continue
        rest = text
        for name in names:
            if name in rest:
                rest = rest.replace(name, " ")
        rest = ADDRESS_PARTS.sub(" ", rest)
        if HAN.search(rest):
            left.append(text)
    return sorted(set(left))


# Codes the server sends that a Chinese page must show by their label (checked as whole words).
ENUM_CODES = sorted(
    {c for c in Channel.values if c != "open311"}
    | set(Role.values)
    | set(GridWorker.Role.values)
    | set(ServiceStation.Kind.values)
    | {"comprehensive", "dedicated", "mediation", "in_progress", "reported", "dispatched"}
)


def raw_codes(texts: list[str]) -> list[str]:
    """Texts holding an enum code as a word; a user's login name (the demo's are "dispatcher" …) is a
    name, not a code, and is left out."""
    users = set(User.objects.values_list("username", flat=True))
    pattern = re.compile(rf"(?<![\w/.-])({'|'.join(map(re.escape, ENUM_CODES))})(?![\w/.-])")
    return sorted({t for t in texts if t not in users and pattern.search(t)})


@pytest.fixture(scope="module")
def browser():
    with chromium() as (_, b):
        yield b


def login(page, base: str, username: str, path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def in_both_languages(page) -> tuple[list[str], list[str]]:
    """(texts in Chinese, texts after the switch to English), the page left in Chinese."""
    page.wait_for_timeout(800)
    zh = page.evaluate(VISIBLE_TEXT)
    page.click("#lang-toggle")
    page.wait_for_timeout(800)
    en = page.evaluate(VISIBLE_TEXT)
    page.click("#lang-toggle")
    return zh, en


def check(page, names) -> None:
    zh, en = in_both_languages(page)
    assert raw_codes(zh) == []
    assert chinese_left(en, names) == []


def test_the_public_page(browser, app_server, names):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(app_server + "/")
        wait_ready(page)
        building = Building.objects.exclude(address="").order_by("id")[7]
        page.fill("#where-q", building.address)
        page.click("#where-form button[type=submit]")
        page.wait_for_selector("#my-grid-card")
        page.wait_for_selector("#station-list li")
        check(page, names)
    finally:
        context.close()


def test_the_big_screen(browser, app_server, names, api, filed):  # noqa: F811
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        login(page, app_server, "dispatcher", "/dispatch/")
        wait_ready(page)
        public = Case.objects.filter(channel="public").order_by("-reported_at")
        number = public.values_list("number", flat=True)[0]
        page.evaluate("n => window.__onenet.openCase(n)", number)
        page.wait_for_selector("#case-drawer .trail li")
        # an entry in the live feed, drawn before the switch, is drawn again in English
        b = Building.objects.order_by("-id").first()
        new = file_case(api, filed, category="SJ0103", description="feed entry",
                        location={"lon": b.point.x, "lat": b.point.y})  # fmt: skip
        page.wait_for_selector(f"#feed-list li[data-number='{new['number']}']")
        check(page, names)
    finally:
        context.close()


def test_the_planner(browser, app_server, names):
    with httpx.Client(base_url=app_server, timeout=60) as planner:
        reply = planner.post("/api/auth/token", data={"username": "planner", "password": PASSWORD})
        token = reply.json()["token"]
        planner.headers["Authorization"] = f"Bearer {token}"
        community = AdminUnit.objects.filter(level="community").order_by("code").last()
        draft = planner.post("/api/boundaries/drafts", json={"net": "comprehensive", "area": community.code})
        assert draft.status_code == 201, draft.text
        draft_id = draft.json()["id"]
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        try:
            page = context.new_page()
            login(page, app_server, "planner", "/planner/")
            page.wait_for_selector("body[data-ready]", state="attached", timeout=90_000)
            page.wait_for_selector(f"[data-open='{draft_id}']")
            page.click(f"[data-open='{draft_id}']")
            page.wait_for_function("id => window.__onenet.state.draft?.id === id", arg=draft_id)
            check(page, names)
        finally:
            context.close()
            planner.delete(f"/api/boundaries/drafts/{draft_id}")
    assert Draft.objects.get(pk=draft_id).status == "discarded"


def test_the_field_page(browser, app_server, names):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        login(page, app_server, "worker", "/field/")
        page.wait_for_selector("body[data-ready]", state="attached", timeout=90_000)
        check(page, names)
    finally:
        context.close()
