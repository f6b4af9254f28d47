"""Query parameters of the OGC API – Features endpoint, checked before any SQL runs.

Everything a client sends is validated here and turned into plain Python values, so that no input can
reach the database in a form PostgreSQL would reject (NUL bytes, numbers out of bigint range, NaN):
a bad request is answered with a 4xx and a reason in Chinese and English, never a 500.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Query parameters every items request may carry, beside the layer's own filterable properties.
COMMON_ITEM_PARAMS = ("f", "bbox", "bbox-crs", "limit", "offset", "datetime")
FORMATS = ("json", "geojson")
# offset is bounded so that it always fits PostgreSQL's bigint OFFSET.
MAX_OFFSET = 10**12
MAX_VALUE_LENGTH = 256
_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class ApiError(Exception):
    """A client error with its OGC exception code and a reason in both languages."""

    def __init__(self, status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None):
        super().__init__(en)
        self.status = status
        self.code = code
        self.zh = zh
        self.en = en
        self.headers = headers or {}

    def payload(self) -> dict:
        return {"code": self.code, "description": self.en, "error": {"zh": self.zh, "en": self.en}}


def bad_parameter(zh: str, en: str) -> ApiError:
    return ApiError(400, "InvalidParameterValue", zh, en)


def single(query: QueryDict, name: str) -> str | None:
    """The one value of `name`; a repeated parameter is ambiguous and refused rather than guessed."""
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_parameter(f"参数 {name} 只能出现一次", f"parameter {name} may appear only once")
    value = values[0]
    if "\x00" in value or len(value) > MAX_VALUE_LENGTH:
        raise bad_parameter(f"参数 {name} 的值无效", f"parameter {name} has an invalid value")
    return value


def check_format(query: QueryDict) -> None:
    value = single(query, "f")
    if value is not None and value.lower() not in FORMATS:
        raise bad_parameter(
            f"不支持的输出格式 f={value}，可用：json",
            f"unsupported output format f={value}; available: json",
        )


def check_only(query: QueryDict, allowed: tuple[str, ...]) -> None:
    """Unknown parameters are refused: a misspelt filter silently ignored would return wrong data."""
    unknown = sorted(set(query.keys()) - set(allowed))
    if unknown:
        names = ", ".join(unknown)
        raise bad_parameter(
            f"未知的查询参数：{names}；可用参数：{', '.join(allowed)}",
            f"unknown query parameter(s): {names}; allowed: {', '.join(allowed)}",
        )


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """Four numbers, CRS84 axis order (lon, lat), inside the valid range and not inverted."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 4:
        raise bad_parameter(
            "bbox 必须是 4 个数：最小经度,最小纬度,最大经度,最大纬度",
            "bbox must be 4 numbers: minlon,minlat,maxlon,maxlat",
        )
    if not all(_NUMBER.fullmatch(p) for p in parts):
        raise bad_parameter("bbox 必须全部是数字", "bbox values must all be numbers")
    minx, miny, maxx, maxy = (float(p) for p in parts)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise bad_parameter("bbox 必须是有限的数字", "bbox values must be finite numbers")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise bad_parameter(
            "bbox 超出范围：经度应在 -180..180，纬度应在 -90..90",
            "bbox out of range: longitude must be within -180..180 and latitude within -90..90",
        )
    if minx > maxx or miny > maxy:
        raise bad_parameter(
            "bbox 的最小值不能大于最大值（不支持跨越180度经线）",
            "bbox minimum must not exceed its maximum (crossing the antimeridian is not supported)",
        )
    return minx, miny, maxx, maxy


def parse_int(name: str, value: str, low: int, high: int) -> int:
    """A plain decimal integer in [low, high]; Python's int() would also accept '1_0' and '١٢'."""
    if not _DIGITS.fullmatch(value.strip()) or len(value.strip()) > 18:
        raise bad_parameter(
            f"参数 {name} 必须是 {low} 到 {high} 之间的整数",
            f"parameter {name} must be an integer between {low} and {high}",
        )
    number = int(value.strip())
    if not low <= number <= high:
        raise bad_parameter(
            f"参数 {name} 必须是 {low} 到 {high} 之间的整数",
            f"parameter {name} must be an integer between {low} and {high}",
        )
    return number


def _parse_instant(text: str, end: bool) -> dt.datetime | None:
    """An RFC 3339 date-time, or a date meaning its whole day; naive values are local time."""
    if text in ("", ".."):
        return None
    tz = timezone.get_default_timezone()
    try:
        if _DATE.fullmatch(text):
            day = parse_date(text)
            if day is None:
                raise ValueError(text)
            moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
        else:
            moment = parse_datetime(text)
            if moment is None:
                raise ValueError(text)
    except (ValueError, OverflowError):
        raise bad_parameter(
            "datetime 必须是 RFC 3339 时间、日期，或用 / 分隔的区间（开放端写 ..）",
            "datetime must be an RFC 3339 date-time, a date, or an interval separated by / (open end: ..)",
        ) from None
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, tz)
        # In UTC: PostgreSQL refuses offsets past ±16 h that Python accepts (a 500 before)
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise bad_parameter(
            "datetime 超出可表示的范围", "datetime is out of the representable range"
        ) from None


def parse_datetime_param(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant or a closed/half-open interval, as (start, end) with None for an open end."""
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        if "/" in end_text or (start_text in ("", "..") and end_text in ("", "..")):
            raise bad_parameter("datetime 区间无效", "invalid datetime interval")
        start, end = _parse_instant(start_text, end=False), _parse_instant(end_text, end=True)
        if start and end and start > end:
            raise bad_parameter("datetime 区间的开始晚于结束", "datetime interval starts after it ends")
        return start, end
    if value in ("", ".."):
        raise bad_parameter("datetime 不能为空", "datetime must not be empty")
    start = _parse_instant(value, end=False)
    if _DATE.fullmatch(value):  # a date instant means the whole day
        return start, _parse_instant(value, end=True)
    return start, start


@dataclass
class ItemsQuery:
    """A validated /items request."""

    limit: int
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    datetime: tuple[dt.datetime | None, dt.datetime | None] | None = None
    # `date=` of layers with boundary generations: the end of that day, local time
    date: dt.datetime | None = None
    # property name → value, only the layer's filterable properties
    filters: dict[str, str] = field(default_factory=dict)
    # the parameters as sent (minus paging), to rebuild next/prev links
    passthrough: list[tuple[str, str]] = field(default_factory=list)


def parse_day(value: str) -> dt.datetime:
    """`date=YYYY-MM-DD`: the moment the day ends (local time), so a boundary published that day counts."""
    try:
        day = parse_date(value) if _DATE.fullmatch(value) else None
    except ValueError:  # 2025-02-30 matches the pattern but is no day
        day = None
    if day is None:
        raise bad_parameter("date 必须是 YYYY-MM-DD 格式的日期", "date must be a date as YYYY-MM-DD")
    return timezone.make_aware(dt.datetime.combine(day, dt.time.max), timezone.get_default_timezone())


def parse_items_query(
    query: QueryDict, filterable: tuple[str, ...], extra: tuple[str, ...] = ()
) -> ItemsQuery:
    check_only(query, COMMON_ITEM_PARAMS + tuple(extra) + tuple(filterable))
    check_format(query)
    limit_text = single(query, "limit")
    offset_text = single(query, "offset")
    limit = (
        settings.OGCAPI_DEFAULT_LIMIT
        if limit_text is None
        else parse_int("limit", limit_text, 1, settings.OGCAPI_MAX_LIMIT)
    )
    offset = 0 if offset_text is None else parse_int("offset", offset_text, 0, MAX_OFFSET)
    result = ItemsQuery(limit=limit, offset=offset)
    bbox_crs = single(query, "bbox-crs")
    if bbox_crs is not None and bbox_crs != CRS84:
        raise bad_parameter(
            f"bbox-crs 只支持 {CRS84}",
            f"bbox-crs supports only {CRS84}",
        )
    bbox = single(query, "bbox")
    if bbox is not None:
        result.bbox = parse_bbox(bbox)
    when = single(query, "datetime")
    if when is not None:
        result.datetime = parse_datetime_param(when)
    day = single(query, "date") if "date" in extra else None
    if day is not None:
        result.date = parse_day(day)
    for name in filterable:
        value = single(query, name)
        if value is not None:
            result.filters[name] = value
    for name in query.keys():
        if name not in ("limit", "offset"):
            result.passthrough.append((name, query[name]))
    return result


def wants_json(accept: str) -> bool:
    """Whether an Accept header admits a JSON answer; no header (or */*) admits anything."""
    if not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        q = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media in ("*/*", "application/*") or (media.startswith("application/") and "json" in media):
            return True
    return False
