"""`manage.py geocode_batch in.csv out.csv`: geocode a spreadsheet offline, with a progress bar.

The same reading, chunking and output as POST /api/geocode/batch (geocoding.batch), without a job: the
rows stream from the input file to the output file chunk by chunk.  `--work` instead drains the job queue
in this process (the jobs of a web process that died, for example) and exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from geocoding import batch
from geocoding import crs as crsmod


class Command(BaseCommand):
    help = "Geocode every row of a CSV (or JSON) file of addresses; one output row per input row, in order."

    def add_arguments(self, parser) -> None:
        parser.add_argument("input", nargs="?", help="CSV (UTF-8 or GBK) or .json file")
        parser.add_argument("output", nargs="?", help="CSV to write (UTF-8 with BOM)")
        parser.add_argument("--column", help="the address column (default: address / 地址 / q …)")
        parser.add_argument("--crs", default="EPSG:4490", help="output CRS of lon/lat (default EPSG:4490)")
        parser.add_argument("--chunk", type=int, default=batch.CHUNK)
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--work", action="store_true", help="work queued or abandoned jobs, then exit")

    def handle(self, *args, **opts) -> None:
        if opts["work"]:
            n = 0
            while (job := batch.claim_next()) is not None:
                batch.run_job(job.pk)
                n += 1
            self.stdout.write(f"{n} job(s) worked")
            return
        if not opts["input"] or not opts["output"]:
            raise CommandError("usage: geocode_batch in.csv out.csv  (or --work)")
        try:
            system = crsmod.parse_crs(opts["crs"])
        except crsmod.CRSError:
            raise CommandError(f"unsupported crs {opts['crs']!r}") from None
        src = Path(opts["input"])
        if not src.is_file():
            raise CommandError(f"no such file: {src}")
        kind = "json" if src.suffix.lower() == ".json" else "csv"
        try:
            header, rows, col = batch.parse_upload(src.read_bytes(), kind, opts["column"])
        except batch.UploadError as exc:
            raise CommandError(f"{exc.zh} / {exc.en}") from None
        nets = batch.net_codes()
        matched = 0
        started = time.perf_counter()
        bar = tqdm(
            total=len(rows), unit="addr", desc="geocoding", disable=opts["no_progress"], file=sys.stderr
        )
        with open(opts["output"], "w", encoding="utf-8-sig", newline="") as out:
            out.write(batch.to_csv([["row", *header, *batch.result_columns(nets)]]))
            for start in range(0, len(rows), opts["chunk"]):
                part, ok = batch.process_rows(rows[start : start + opts["chunk"]], col, system, nets, start)
                out.write(batch.to_csv(part))
                matched += ok
                bar.update(len(part))
        bar.close()
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{len(rows)} rows, {matched} placed, {len(rows) - matched} not placed → {opts['output']} "
            f"({seconds:.1f} s, {len(rows) / seconds:.0f} addresses/s)"
        )
