"""``manage.py evaluate_gse``: evaluate a registered GSE, the base model or a surface baseline
on any Triple-S pair file (e.g. the public Triple-S test pairs with their images), beside the
surface baselines with paired bootstrap intervals; or, with ``--task emotion``, classify
stickers by one reference sticker per class."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from encoder.evaluation_services import emotion_evaluate
from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.data import GseDataError
from encoder.models import EncoderVersion
from encoder.selectors import encoder_version_find
from encoder.spec import EncoderError
from encoder.training_services import gse_evaluate


class Command(BaseCommand):
    help = ("Evaluate a model (version id, 'base', or a surface baseline: "
            f"{', '.join(SURFACE_BASELINES)}) on a Triple-S pair CSV with its images, or on "
            "emotion classification (--task emotion --labels CSV).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", required=True,
                            help=f"EncoderVersion id or version, base, or one of "
                                 f"{', '.join(SURFACE_BASELINES)}")
        parser.add_argument("--task", choices=["pairs", "emotion"], default="pairs")
        parser.add_argument("--pairs", help="sticker_id,sticker_id_2,label CSV (task pairs)")
        parser.add_argument("--labels", help="sticker,class CSV (task emotion)")
        parser.add_argument("--images", required=True, help="folder with the stickers' images")
        parser.add_argument("--val", help="validation pair CSV to tune the threshold on")
        parser.add_argument("--base", default="", help="for --model base: name or config JSON")
        parser.add_argument("--pretrained", default=None, help="for --model base: tag or path")
        parser.add_argument("--baselines", default=",".join(SURFACE_BASELINES),
                            help="surface baselines scored beside the model ('' for none)")
        parser.add_argument("--draws", type=int, default=20, help="emotion: reference draws")
        parser.add_argument("--seed", type=int, default=0, help="emotion: draw seed")
        parser.add_argument("--report", help="folder to write the report into")

    def handle(self, *args, **opts) -> None:
        baselines = [b.strip() for b in opts["baselines"].split(",") if b.strip()]
        unknown = [b for b in baselines if b not in SURFACE_BASELINES]
        if unknown:
            raise CommandError(f"--baselines: unknown {unknown}; known: "
                               f"{', '.join(SURFACE_BASELINES)}")
        named = opts["model"]
        try:
            model = named if named in ("base", *SURFACE_BASELINES) else self._version(named)
            if opts["task"] == "emotion":
                if not opts["labels"]:
                    raise CommandError("--task emotion needs --labels sticker,class CSV")
                result = emotion_evaluate(
                    model=model, labels_csv=opts["labels"], images_dir=opts["images"],
                    base_model=opts["base"], pretrained=opts["pretrained"],
                    draws=opts["draws"], seed=opts["seed"], baselines=baselines,
                    report_dir=opts["report"])
            else:
                if not opts["pairs"]:
                    raise CommandError("--pairs is required (or --task emotion --labels)")
                result = gse_evaluate(
                    model=model, pairs_csv=opts["pairs"], images_dir=opts["images"],
                    val_csv=opts["val"], base_model=opts["base"],
                    pretrained=opts["pretrained"], report_dir=opts["report"],
                    baselines=baselines)
        except (InputError, GseDataError, EncoderError, ValueError) as e:
            raise CommandError(str(e)) from e
        if opts["task"] == "emotion":
            self.stderr.write(result["table"])
        elif result.get("verdict"):
            self.stderr.write(result["verdict"])
        self.stdout.write(json.dumps(result, indent=2, default=str))

    @staticmethod
    def _version(value: str) -> EncoderVersion:
        row = encoder_version_find(value=value)
        if row is None:
            raise CommandError(f"--model {value}: no such encoder version")
        return row
