"""./gis onboard DIR [--apply] — a city's handover folder, as DIR/onboard.yaml says (onboarding.run)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.io.errors import LayerIOError
from onboarding.run import REPORT_HTML, REPORT_JSON, onboard


class Command(BaseCommand):
    help = (
        "城市数据接入：按 DIR/onboard.yaml 读入各部门交来的文件；不加 --apply 只试运行并写出报告 "
        "Onboard a city's files as DIR/onboard.yaml says; without --apply a dry run that changes nothing and "
        "writes DIR/onboard-report.json and .html."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="交接目录 the folder holding onboard.yaml")
        parser.add_argument("--apply", action="store_true", help="写入数据库 load it (all or nothing)")
        parser.add_argument(
            "--user",
            help="网格划分助手以其名义划分网格 the planner the grids are drawn as (default: first superuser)",
        )

    def handle(self, *args, **opts) -> None:
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"用户不存在 no such user: {opts['user']}")
        try:
            report = onboard(
                opts["folder"],
                apply=opts["apply"],
                progress=opts["verbosity"] > 0 and sys.stderr.isatty(),
                log=lambda m: self.stderr.write(m, style_func=str),
                user=user,
            )
        except LayerIOError as exc:
            raise CommandError(str(exc)) from None
        for layer, r in report["layers"].items():
            errors = [f for f in r["files"] if f.get("error")]
            self.stdout.write(
                f"{layer}: read {r['read']}, loadable {r['loadable']}, repaired {len(r['repaired'])}, "
                f"rejected {len(r['rejected'])}" + (f", {len(errors)} file(s) not read" if errors else "")
            )
        for check, c in report["checks"].items():
            self.stdout.write(f"{check}: {c['count']}")
        state = (
            "applied"
            if report["applied"]
            else ("already applied" if report.get("already_applied") else "dry run")
        )
        self.stdout.write(f"{state}; report: {opts['folder'] / REPORT_JSON}, {opts['folder'] / REPORT_HTML}")
