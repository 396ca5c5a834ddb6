"""``manage.py evaluate_judge``: the VLM judge baseline (paper 001, appendix A prompt) on a
Triple-S pair file, against any OpenAI-compatible chat-completions server; the API key comes
from OPENAI_API_KEY. Answers are cached per pair and model, so an interrupted run resumes."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from encoder.evaluation_services import judge_evaluate
from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.data import GseDataError
from encoder.gse.judge import CONCURRENCY, TIMEOUT_S


class Command(BaseCommand):
    help = ("Score sticker pairs with a VLM judge (OpenAI-compatible endpoint) beside the "
            "surface baselines, with bootstrap intervals and the cost of the run.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--pairs", required=True, help="sticker_id,sticker_id_2,label CSV")
        parser.add_argument("--images", required=True, help="folder with the stickers' images")
        parser.add_argument("--endpoint", required=True,
                            help="base URL of the server, e.g. http://localhost:8000/v1")
        parser.add_argument("--model", required=True, help="the served model's name")
        parser.add_argument("--val", help="validation pair CSV to tune the threshold on "
                                          "(default: similar at score >= 0.5)")
        parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
        parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds/request")
        parser.add_argument("--cache", help="answer cache folder (default var/judge_cache)")
        parser.add_argument("--baselines", default=",".join(SURFACE_BASELINES))
        parser.add_argument("--report", help="folder to write report.md/json and plots into")

    def handle(self, *args, **opts) -> None:
        baselines = [b.strip() for b in opts["baselines"].split(",") if b.strip()]
        if unknown := [b for b in baselines if b not in SURFACE_BASELINES]:
            raise CommandError(f"--baselines: unknown {unknown}")
        if opts["concurrency"] < 1:
            raise CommandError("--concurrency: at least 1")

        def progress(done: int, total: int) -> None:
            if done == total or done % 50 == 0:
                self.stderr.write(f"judge: {done}/{total} requests")

        try:
            result = judge_evaluate(
                pairs_csv=opts["pairs"], images_dir=opts["images"], endpoint=opts["endpoint"],
                model=opts["model"], val_csv=opts["val"], cache_dir=opts["cache"],
                concurrency=opts["concurrency"], timeout=opts["timeout"],
                report_dir=opts["report"], baselines=baselines, progress=progress)
        except (InputError, GseDataError, ValueError) as e:
            raise CommandError(str(e)) from e
        cost = result["cost"]
        self.stderr.write(f"cost: {cost['requests']} requests ({cost['cached_answers']} cached), "
                          f"{cost['total_tokens']} tokens; answers {cost['answers']}")
        self.stdout.write(json.dumps(result, indent=2, default=str))
