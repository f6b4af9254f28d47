"""Refuse a database whose character type is not UTF-8.

pg_trgm classifies characters with the database's LC_CTYPE: under `C` every Chinese character is a
non-word character, `show_trgm('学士街33号楼')` keeps only the digits, and every Chinese name looks the same
to the typo matcher — the geocoder would answer, confidently and wrongly.  So we refuse to work at all.

Why a guard on the first connection rather than a Django system check: system checks run only under
`manage.py` commands (and database checks only with `--database` or in `migrate`); uvicorn never runs
them, so a server started by docker-compose on a wrong database would serve wrong answers.  The
`connection_created` signal fires in every process on every new connection, whatever started it:
`./gis up` stops at its `migrate` step with this message, and any other server fails closed on its first
query (and /healthz reports the database as unusable).  It costs one `SHOW` per new connection, once per
process and database.
"""

from __future__ import annotations

import threading

from django.core.exceptions import ImproperlyConfigured

_verified: set[tuple] = set()
_lock = threading.Lock()
# Maintenance databases Django connects to for creating test databases: their locale is not the app's.
_MAINTENANCE_DBS = {"postgres", "template0", "template1"}


def ctype_problem(cursor) -> str | None:
    """None when the database behind `cursor` has a UTF-8 encoding and ctype, else the reason."""
    cursor.execute("select current_setting('lc_ctype'), current_setting('server_encoding')")
    ctype, encoding = cursor.fetchone()
    norm = (ctype or "").lower().replace("-", "")
    if encoding.upper().replace("-", "") != "UTF8" or not (norm.endswith(".utf8") or norm == "utf8"):
        return (
            f"数据库的字符类型为 LC_CTYPE={ctype}、编码为 {encoding}，不是 UTF-8：pg_trgm 将无法识别汉字，"
            f"地址匹配会全部出错，因此拒绝启动。请用 "
            f"`createdb -E UTF8 -T template0 --locale=C.UTF-8` 重建数据库"
            f"（./gis 会这样创建）。 / The database has LC_CTYPE={ctype} and encoding {encoding}, not UTF-8: "
            f"pg_trgm would not see Chinese characters as letters and every address match would be wrong, so "
            f"the server refuses to start. Recreate the database with "
            f"`createdb -E UTF8 -T template0 --locale=C.UTF-8` (as ./gis does)."
        )
    return None


def refuse_non_utf8_ctype(sender, connection, **kwargs) -> None:
    """connection_created receiver: raise (and drop the connection) on a non-UTF-8 database."""
    if connection.vendor != "postgresql":
        return
    s = connection.settings_dict
    if s.get("NAME") in _MAINTENANCE_DBS:
        return
    key = (s.get("HOST"), s.get("PORT"), s.get("NAME"))
    if key in _verified:
        return
    with connection.connection.cursor() as cur:
        problem = ctype_problem(cur)
    if problem:
        # Close before raising: otherwise the wrapper keeps the open connection and later queries succeed.
        connection.close()
        raise ImproperlyConfigured(problem)
    with _lock:
        _verified.add(key)
