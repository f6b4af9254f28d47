"""Removes the cases a load run filed (Idempotency-Key `load-…`), their trail included.

    .venv/bin/python bench/load/cleanup.py postgres://postgres@127.0.0.1:54329/onenet_city

The trail is append-only (a trigger refuses deletes); the guard is lifted for this one transaction.
"""

from __future__ import annotations

import sys

import psycopg


def main(dsn: str) -> None:
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set constraints all immediate")
        conn.execute("alter table cases_caseevent disable trigger cases_event_append_only")
        ids = "(select id from cases_case where idempotency_key like 'load-%')"
        conn.execute(f"update cases_case set duplicate_of_id = null where duplicate_of_id in {ids}")
        conn.execute(f"delete from cases_attachment where case_id in {ids}")
        conn.execute(f"delete from cases_caseevent where case_id in {ids}")
        n = conn.execute("delete from cases_case where idempotency_key like 'load-%'").rowcount
        conn.execute("alter table cases_caseevent enable trigger cases_event_append_only")
    print(f"removed {n} load-test cases")


if __name__ == "__main__":
    main(sys.argv[1])
