"""``manage.py evaluate_gse``: evaluate a registered GSE or the base model on any Triple-S
pair file (e.g. the public Triple-S test pairs with their images)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from encoder.gse.data import GseDataError
from encoder.models import EncoderVersion
from encoder.openclip import EncoderError
from encoder.selectors import encoder_version_find
from encoder.training_services import gse_evaluate


class Command(BaseCommand):
    help = "Evaluate a model (version id or 'base') on a Triple-S pair CSV with its images."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", required=True, help="EncoderVersion id, version, or base")
        parser.add_argument("--pairs", required=True, help="sticker_id,sticker_id_2,label CSV")
        parser.add_argument("--images", required=True, help="folder with the stickers' images")
        parser.add_argument("--val", help="validation pair CSV to tune the threshold on")
        parser.add_argument("--base", default="", help="for --model base: name or config JSON")
        parser.add_argument("--pretrained", default=None, help="for --model base: tag or path")
        parser.add_argument("--report", help="folder to write report.md/json and plots into")

    def handle(self, *args, **opts) -> None:
        try:
            model = opts["model"] if opts["model"] == "base" else self._version(opts["model"])
            result = gse_evaluate(model=model, pairs_csv=opts["pairs"], images_dir=opts["images"],
                                  val_csv=opts["val"], base_model=opts["base"],
                                  pretrained=opts["pretrained"], report_dir=opts["report"])
        except (InputError, GseDataError, EncoderError, ValueError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(json.dumps(result, indent=2, default=str))

    @staticmethod
    def _version(value: str) -> EncoderVersion:
        row = encoder_version_find(value=value)
        if row is None:
            raise CommandError(f"--model {value}: no such encoder version")
        return row
