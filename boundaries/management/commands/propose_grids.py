"""./gis manage propose_grids --area CODE --target N [--village-target M] — the grid drawing assistant."""

from __future__ import annotations

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from boundaries.drafts import describe
from boundaries.errors import Refusal
from boundaries.propose import URBAN_TARGET, VILLAGE_TARGET, propose
from boundaries.validation import validate


class Command(BaseCommand):
    help = (
        "网格划分助手：沿道路、按户数为社区、街道或整个区划出综合网格，结果为边界草稿 "
        "Propose comprehensive grids along roads, sized by households, for a community, a street or a "
        "district, as a boundary draft (nothing is published; open it in /planner/)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", required=True, help="范围 admin-unit code: community, street, district")
        parser.add_argument(
            "--target", type=int, default=URBAN_TARGET, help=f"城市社区每格目标户数 (default {URBAN_TARGET})"
        )
        parser.add_argument(
            "--village-target",
            type=int,
            default=VILLAGE_TARGET,
            help=f"村每格目标户数 households per village grid (default {VILLAGE_TARGET})",
        )
        parser.add_argument(
            "--user", help="草稿所属规划员 the planner the draft belongs to (default: the first superuser)"
        )
        parser.add_argument("--note", default="", help="说明 note")

    def handle(self, *args, **opts) -> None:
        users = get_user_model().objects
        if opts["user"]:
            user = users.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"用户不存在 no such user: {opts['user']}")
        else:
            user = users.filter(is_superuser=True, is_active=True).order_by("pk").first()
            if user is None:
                raise CommandError("没有管理员账户，请用 --user 指定 no superuser: give --user")
        bar = tqdm(total=0, unit="社区 communities", file=sys.stderr, disable=opts["verbosity"] == 0)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            draft, summary = propose(
                user,
                opts["area"],
                opts["target"],
                opts["village_target"],
                note=opts["note"],
                progress=progress,
            )
        except Refusal as exc:
            raise CommandError(f"{exc.zh} {exc.en}") from None
        finally:
            bar.close()
        result = validate(draft)
        self.stdout.write(
            json.dumps(
                {
                    "draft": describe(draft),
                    "proposal": summary,
                    "validation": {k: result[k] for k in ("ok", "errors", "warnings", "counts")},
                    "next": f"/planner/?draft={draft.pk}",
                },
                ensure_ascii=False,
                indent=2,
            )
        )
