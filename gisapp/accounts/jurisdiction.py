"""The one mechanism that scopes non-public data to a user's jurisdiction.

Every non-public model names, in `jurisdiction_field`, the path to a comprehensive grid code (15 digits:
community 12 + sequence 3, so it starts with its street's 9 and district's 6 digits).  A jurisdiction is a
code prefix; a user sees a row when its grid code starts with that prefix.  Models handled by departments
also name a `department_field`.  Later issues (tiles, case loop, exports) call `scope()` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet

from .models import Profile, Role


@dataclass(frozen=True)
class Jurisdiction:
    prefix: str | None  # None: no area at all; "" would be everything
    department_id: int | None = None
    role: str | None = None

    @property
    def everything(self) -> bool:
        return self.prefix == ""

    @property
    def sees_unplaced(self) -> bool:
        """District- and city-level dispatchers also see cases with no grid yet (the "place me" queue):
        an unplaced case has no code to scope by, and someone above the streets must place it."""
        return self.everything or (
            self.role == Role.DISPATCHER and self.prefix is not None and len(self.prefix) <= 6
        )


NOBODY = Jurisdiction(prefix=None)


def prefix_for_code(code: str) -> str:
    """A city's code (6 digits ending in 00) covers its districts by their first 4 digits."""
    if len(code) == 6 and code.endswith("00"):
        return code[:4]
    return code


def jurisdiction_of(user) -> Jurisdiction:
    if user is None or not user.is_authenticated or not user.is_active:
        return NOBODY
    try:
        profile: Profile = user.profile
    except Profile.DoesNotExist:
        return Jurisdiction(prefix="" if user.is_superuser else None)
    if profile.role == Role.ADMIN or user.is_superuser:
        return Jurisdiction(prefix="", role=Role.ADMIN)
    prefix = prefix_for_code(profile.jurisdiction_code) if profile.jurisdiction_code else None
    return Jurisdiction(prefix=prefix, department_id=profile.department_id, role=profile.role)


def scope(qs: QuerySet, user) -> QuerySet:
    """Restrict `qs` to the rows `user` may see; a model without a jurisdiction field is refused."""
    model: type[Model] = qs.model
    field = getattr(model, "jurisdiction_field", None)
    if field is None:
        raise TypeError(f"{model.__name__} declares no jurisdiction_field and cannot be scoped")
    j = jurisdiction_of(user)
    if j.everything:
        return qs
    q = Q(pk__in=[])
    if j.prefix:
        q |= Q(**{f"{field}__startswith": j.prefix})
    dept_field = getattr(model, "department_field", None)
    if j.department_id is not None and dept_field:
        q |= Q(**{dept_field: j.department_id})
    return qs.filter(q)


def covers(user, grid_code: str) -> bool:
    j = jurisdiction_of(user)
    return j.everything or (bool(j.prefix) and grid_code.startswith(j.prefix))
