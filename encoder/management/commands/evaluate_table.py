"""``manage.py evaluate_table --pairs-dir DIR --images DIR``: every available scorer (the base
model, each registered GSE, the surface baselines, the VLM judge when configured) on a
Triple-S folder, as one markdown table like the paper's Table 3."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from encoder.evaluation_services import table_evaluate
from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.data import GseDataError
from encoder.gse.judge import CONCURRENCY


class Command(BaseCommand):
    help = "Score every available scorer on a Triple-S folder; write one Table-3 markdown."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--pairs-dir", required=True,
                            help="folder with pairs_test.csv (and pairs_val.csv or "
                                 "pairs_train.csv to tune thresholds on)")
        parser.add_argument("--images", required=True, help="folder with the stickers' images")
        parser.add_argument("--out", help="markdown file to write (default: print only)")
        parser.add_argument("--no-base", action="store_true", help="leave the base model out")
        parser.add_argument("--judge-endpoint", default=os.environ.get("GSE_JUDGE_ENDPOINT", ""),
                            help="OpenAI-compatible base URL (env GSE_JUDGE_ENDPOINT)")
        parser.add_argument("--judge-model", default=os.environ.get("GSE_JUDGE_MODEL", ""),
                            help="judge model name (env GSE_JUDGE_MODEL)")
        parser.add_argument("--judge-concurrency", type=int, default=CONCURRENCY)
        parser.add_argument("--baselines", default=",".join(SURFACE_BASELINES))

    def handle(self, *args, **opts) -> None:
        baselines = [b.strip() for b in opts["baselines"].split(",") if b.strip()]
        if unknown := [b for b in baselines if b not in SURFACE_BASELINES]:
            raise CommandError(f"--baselines: unknown {unknown}")
        try:
            result = table_evaluate(
                pairs_dir=opts["pairs_dir"], images_dir=opts["images"], out=opts["out"],
                include_base=not opts["no_base"], judge_endpoint=opts["judge_endpoint"],
                judge_model=opts["judge_model"], judge_concurrency=opts["judge_concurrency"],
                baselines=baselines, write=lambda line: self.stderr.write(line))
        except (InputError, GseDataError, ValueError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(result["table"])
        self.stdout.write("")
        self.stdout.write(result["verdict"])
        for note in result["notes"]:
            self.stdout.write(f"- {note}")
        if result.get("out"):
            self.stdout.write(f"written to {result['out']}")
