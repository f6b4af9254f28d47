"""`./gis manage import_cases FILE.csv`: file a batch of cases (e.g. a department's spreadsheet).

Columns: `category` and either `address` or `lon`,`lat` (with optional `crs`), plus optional
`description`, `contact` and `id` (the row's own id: re-importing the same file makes no duplicates,
because each row's idempotency key is `batch:<id>` or `batch:<file hash>:<row>`).  All rows land in one
transaction; a bad row is reported (row number and why) and nothing is written unless --skip-invalid.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from cases.errors import CaseError
from cases.models.case import Channel
from cases.services import create_case


class Command(BaseCommand):
    help = "批量导入案件 / file a batch of cases from a CSV file"

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--encoding", default="utf-8-sig", help="the file's encoding (GBK from Excel)")
        parser.add_argument("--skip-invalid", action="store_true", help="file the good rows, list the bad")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, file, encoding, skip_invalid, quiet, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"文件不存在 / no such file: {file}")
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()[:16]
        try:
            rows = list(csv.DictReader(raw.decode(encoding).splitlines()))
        except (UnicodeDecodeError, LookupError) as exc:
            raise CommandError(f"无法按 {encoding} 解码 / cannot decode as {encoding}: {exc}") from None
        if not rows or "category" not in rows[0]:
            raise CommandError("需要表头含 category 列 / the header must have a 'category' column")
        problems: list[str] = []
        created = existing = 0
        bar = tqdm(total=len(rows), unit="rows", disable=quiet or not sys.stderr.isatty())
        with transaction.atomic():
            for n, row in enumerate(rows, start=2):  # row 1 is the header
                data: dict = {
                    "category": (row.get("category") or "").strip(),
                    "description": (row.get("description") or "").strip(),
                    "contact": (row.get("contact") or "").strip(),
                }
                if row.get("lon") or row.get("lat"):
                    data["location"] = {
                        "lon": row.get("lon"),
                        "lat": row.get("lat"),
                        "crs": row.get("crs") or None,
                    }
                elif row.get("address"):
                    data["address"] = row["address"].strip()
                key = f"batch:{row['id'].strip()}" if row.get("id") else f"batch:{digest}:{n}"
                try:
                    with transaction.atomic():
                        result = create_case(data, None, Channel.BATCH, key[:100])
                except CaseError as exc:
                    problems.append(f"第 {n} 行 / row {n}: {exc.zh} / {exc.en}")
                else:
                    created += result.created
                    existing += not result.created
                bar.update(1)
            bar.close()
            if problems and not skip_invalid:
                transaction.set_rollback(True)
        for p in problems[:200]:
            self.stderr.write(p)
        if problems and not skip_invalid:
            raise CommandError(
                f"{len(problems)} 行有误，未导入任何案件 / {len(problems)} bad rows: nothing was filed"
            )
        if not quiet:
            self.stdout.write(
                self.style.SUCCESS(
                    f"filed {created}, already filed {existing}, refused {len(problems)} of {len(rows)} rows"
                )
            )
