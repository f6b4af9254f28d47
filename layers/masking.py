"""Personal data (names, ID numbers, phone numbers, birth dates, special-group flags): masked by default,
in clear only through `reveal`, which decides who may and writes the audit row in the same call.

Residents' details are shown masked by default (张**, 230602********1234, 138****5678): enough to tell
people apart and to check a record against a paper form, not enough to identify or call anyone.  The
admin, the API and later screens use these functions so that a person looks the same everywhere.

Who may read a field in clear is decided here (`may_unmask`): the administrator for everything, and
whoever the model itself admits (`admits_unmasking`: for a case's reporter contact, the case loop says
the dispatchers responsible for the case and its assignee, who may have to call the reporter back).
Every clear read leaves one `PersonalDataAccess` row (who, when, which object and fields, from where,
which request): `reveal` is the only writer of that table, so no code path can unmask without
leaving one.  docs/SECURITY.md lists the places that call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest


def mask_name(name: str) -> str:
    """The family name (first character) and two stars, whatever the length, so the length leaks nothing."""
    name = (name or "").strip()
    return f"{name[:1]}**" if name else ""


def mask_id_number(id_number: str) -> str:
    """Keep the region code (6) and the last 4 characters of an 18-digit (or 15-digit) ID number."""
    value = (id_number or "").strip()
    if len(value) < 11:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(phone: str) -> str:
    """Keep the first 3 and the last 4 digits of a phone number (138****5678)."""
    value = (phone or "").strip()
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_birth_date(value) -> str:
    """The year only: an age band is what lists need, the day identifies."""
    return f"{value.year}-**-**" if value else ""


def mask_tags(tags) -> str:
    """Whether the person is in any special group, never which one (低保户, 残疾人 … are sensitive)."""
    return "***" if tags else ""


# Field name → how it is masked.  A personal field missing here is a programming error (KeyError).
MASKS: dict[str, Callable] = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "reporter_contact": mask_phone,
    "birth_date": mask_birth_date,
    "tags": mask_tags,
}


def personal_fields(obj_or_model) -> tuple[str, ...]:
    """The model's declared personal fields (`personal_fields` on the model class)."""
    return tuple(getattr(obj_or_model, "personal_fields", ()))


def masked(obj: Model, fields: Iterable[str] | None = None) -> dict:
    """The masked values of `fields` (default: all the model's personal fields)."""
    names = tuple(fields) if fields is not None else personal_fields(obj)
    return {f: MASKS[f](getattr(obj, f)) for f in names}


def may_unmask(user, obj: Model) -> bool:
    """Whether `user` may read `obj`'s personal fields in clear (the one policy, see the module doc)."""
    from gisapp.accounts.jurisdiction import jurisdiction_of

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if jurisdiction_of(user).everything:
        return True
    # A model above this room (the case loop) says who stands close enough to the record; layers must not
    # import it, so the model carries the answer.
    admits = getattr(obj, "admits_unmasking", None)
    if admits is not None:
        return bool(admits(user))
    return False  # residents, grid workers: the administrator only


def request_id(request: HttpRequest) -> str:
    """The id of this request in the audit: the proxy's X-Request-ID when there is one, else a new id,
    the same for every row the request writes."""
    rid = getattr(request, "_onenet_request_id", None)
    if rid is None:
        given = request.headers.get("X-Request-ID", "")
        rid = given[:64] if given and given.isprintable() else uuid.uuid4().hex
        request._onenet_request_id = rid
    return rid


def _client_ip(request: HttpRequest) -> str | None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_ipv46_address

    addr = request.META.get("REMOTE_ADDR") or ""
    try:
        validate_ipv46_address(addr)
    except ValidationError:
        return None
    return addr


def reveal(request: HttpRequest, obj: Model, fields: Iterable[str], purpose: str) -> dict:
    """The clear values of `fields` of `obj` for the requesting user, and one audit row of this read.

    Refuses (PermissionDenied) a user `may_unmask` does not allow and (ValueError) a field the model does
    not declare personal: every clear read goes through the policy and leaves its row."""
    from gisapp.accounts.models import PersonalDataAccess

    names = tuple(dict.fromkeys(fields))
    declared = personal_fields(obj)
    unknown = [f for f in names if f not in declared]
    if not names or unknown:
        raise ValueError(f"not personal fields of {obj._meta.label}: {', '.join(unknown) or '(none)'}")
    user = request.user
    if not may_unmask(user, obj):
        raise PermissionDenied(f"{getattr(user, 'username', '')} may not unmask {obj._meta.label}")
    profile = getattr(user, "profile", None)
    PersonalDataAccess.objects.create(
        user_id=user.pk,
        username=user.get_username(),
        role=profile.role if profile is not None else ("admin" if user.is_superuser else ""),
        model=obj._meta.label,
        object_id=str(obj.pk),
        # A case number or "人口 #123": never __str__, which may hold a name (a grid worker's).
        object_label=str(getattr(obj, "number", "") or f"{obj._meta.verbose_name} #{obj.pk}")[:120],
        fields=list(names),
        purpose=purpose[:64],
        method=request.method or "",
        path=request.get_full_path()[:300],
        remote_addr=_client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:200],
        request_id=request_id(request),
    )
    return {f: getattr(obj, f) for f in names}
