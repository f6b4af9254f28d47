"""What grid workers do on the ground: check-ins (考勤打卡) and patrol tracks (巡查轨迹).

Both come from a phone on a weak network, so both are written idempotently: the phone makes a key per
check-in and per batch of track points, and a resend of the same key stores nothing twice.  A patrol is
kept as rows of sampled points (time, place, accuracy) rather than as one line, so that a batch sent an
hour late — or out of order — is simply appended; the line and its length are derived from the points
(`Patrol.refresh`), ordered by the time each point was taken.

Scoped like every non-public model through `jurisdiction_field`: the grid the worker works in.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .geo import SRID, gist, mercator_copy

# Points less precise than this are kept (the phone said so) but left out of the line and its length:
# a 300 m fix in a street canyon would add a zigzag of kilometres to a patrol of a few hundred metres.
TRACK_ACCURACY_M = 100.0


class CheckIn(models.Model):
    """考勤打卡: a worker says "I am here, on duty" with the phone's location."""

    worker = models.ForeignKey(
        "layers.GridWorker", on_delete=models.PROTECT, related_name="checkins", verbose_name=_("网格员")
    )
    user = models.ForeignKey(
        "auth.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("账号"),
    )
    # When the server received it: attendance is judged by this clock, not the phone's.
    at = models.DateTimeField(_("打卡时间"), default=timezone.now, db_index=True)
    # When the phone took it (a check-in queued offline arrives later than it was made).
    device_time = models.DateTimeField(_("设备时间"), null=True, blank=True)
    geom = models.PointField(_("位置"), srid=SRID)
    geom_3857 = mercator_copy(models.PointField)
    accuracy_m = models.FloatField(_("定位精度（米）"), null=True, blank=True)
    crs = models.CharField(_("原始坐标系"), max_length=16, blank=True)
    # The worker's grid the point was found in (spatially; see field.services for the tolerance).
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    inside = models.BooleanField(_("在网格内"), default=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    client_key = models.CharField(_("客户端键"), max_length=100)

    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("考勤打卡")
        verbose_name_plural = _("考勤打卡")
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "client_key"], name="checkin_worker_key_uniq")
        ]
        indexes = [gist("geom_3857", name="checkin_geom3857_gist")]

    def __str__(self) -> str:
        return f"{self.worker_id} @ {self.grid_code} {self.at:%Y-%m-%d %H:%M}"


class Patrol(models.Model):
    """巡查轨迹: one worker's patrol of one (local) day; the points are its rows, the rest is derived."""

    worker = models.ForeignKey(
        "layers.GridWorker", on_delete=models.PROTECT, related_name="patrols", verbose_name=_("网格员")
    )
    day = models.DateField(_("日期"))
    grid_code = models.CharField(_("网格编码"), max_length=24, db_index=True)
    # Derived from the points by `refresh` in the transaction that appends them.
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    point_count = models.PositiveIntegerField(_("点数"), default=0)
    length_m = models.FloatField(_("里程（米）"), default=0)

    jurisdiction_field = "grid_code"

    class Meta:
        verbose_name = _("巡查轨迹")
        verbose_name_plural = _("巡查轨迹")
        ordering = ["-day", "worker_id"]
        constraints = [models.UniqueConstraint(fields=["worker", "day"], name="patrol_worker_day_uniq")]
        indexes = [models.Index(fields=["day", "grid_code"], name="patrol_day_grid_idx")]

    def __str__(self) -> str:
        return f"{self.worker_id} {self.day} ({self.point_count})"

    @staticmethod
    def refresh(ids: list[int]) -> None:
        """Recount points, times and the length of the line through the precise points, in time order."""
        if not ids:
            return
        with connection.cursor() as cur:
            cur.execute(
                """
                update layers_patrol p set
                  point_count = s.n, started_at = s.first, ended_at = s.last, length_m = coalesce(s.len, 0)
                from (
                  select patrol_id, count(*) as n, min(at) as first, max(at) as last,
                         st_length((st_makeline(geom order by at)
                                    filter (where accuracy_m is null or accuracy_m <= %s))::geography) as len
                  from layers_patrolpoint where patrol_id = any(%s) group by patrol_id
                ) s
                where p.id = s.patrol_id
                """,
                [TRACK_ACCURACY_M, list(ids)],
            )

    @staticmethod
    def lines(ids: list[int]) -> dict[int, dict]:
        """patrol id → its track as a GeoJSON LineString (CGCS2000), for patrols with two precise points."""
        import json

        if not ids:
            return {}
        with connection.cursor() as cur:
            cur.execute(
                """
                select patrol_id, st_asgeojson(st_makeline(geom order by at), 6)
                from layers_patrolpoint
                where patrol_id = any(%s) and (accuracy_m is null or accuracy_m <= %s)
                group by patrol_id having count(*) >= 2
                """,
                [list(ids), TRACK_ACCURACY_M],
            )
            return {pk: json.loads(geojson) for pk, geojson in cur.fetchall()}


class PatrolPoint(models.Model):
    """One sample of a patrol: where the phone was, when, and how sure it was."""

    patrol = models.ForeignKey(Patrol, on_delete=models.CASCADE, related_name="points")
    at = models.DateTimeField(_("时间"))
    geom = models.PointField(_("位置"), srid=SRID)
    accuracy_m = models.FloatField(_("定位精度（米）"), null=True, blank=True)
    # The phone's key for the batch this point came in, and its place in it: a resent batch collides here.
    batch_key = models.CharField(_("批次键"), max_length=100)
    seq = models.PositiveIntegerField(_("批内序号"))

    jurisdiction_field = "patrol__grid_code"

    class Meta:
        verbose_name = _("巡查轨迹点")
        verbose_name_plural = _("巡查轨迹点")
        ordering = ["patrol_id", "at"]
        constraints = [
            models.UniqueConstraint(fields=["patrol", "batch_key", "seq"], name="patrolpoint_batch_uniq")
        ]
        indexes = [models.Index(fields=["patrol", "at"], name="patrolpoint_patrol_at_idx")]

    def __str__(self) -> str:
        return f"{self.patrol_id} {self.at:%H:%M:%S}"
