"""``manage.py embed_stickers``: embed every sticker still missing for an encoder version."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import InputError
from encoder.embedding_services import (
    ProgressFn,
    encoder_spec_from_settings,
    stickers_embed,
    stickers_embed_with_spec,
)
from encoder.models import EncoderVersion
from encoder.spec import EncoderError


@contextlib.contextmanager
def progress_bar(desc: str) -> Iterator[ProgressFn]:
    """A tqdm bar fed by a service's ``progress(done, total)`` callback."""
    bar = tqdm(unit="sticker", desc=desc)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()


class Command(BaseCommand):
    help = ("Embed the stills of all stickers that have no embedding for the encoder version "
            "(GSE_MODEL / GSE_PRETRAINED unless overridden), on CUDA when present.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", help="OpenCLIP model name or model-config JSON path")
        parser.add_argument("--pretrained", help="hub tag or local checkpoint path ('' = none)")
        parser.add_argument("--device", help="cuda or cpu (default: cuda when present)")
        parser.add_argument("--batch-size", type=int,
                            help="images per batch (default GSE_EMBED_BATCH_SIZE)")
        parser.add_argument("--encoder-version", help="an already registered version (e.g. a GSE)")

    def handle(self, *args, **opts) -> None:
        try:
            with progress_bar("embedding") as progress:
                if opts["encoder_version"]:
                    version = EncoderVersion.objects.get(version=opts["encoder_version"])
                    count = stickers_embed(encoder_version=version, batch_size=opts["batch_size"],
                                           progress=progress, device=opts["device"])
                else:
                    spec = encoder_spec_from_settings(
                        model=opts["model"], pretrained=opts["pretrained"], device=opts["device"]
                    )
                    # Loads the weights before registering the version: a failed load leaves
                    # no version row behind.
                    version, count = stickers_embed_with_spec(
                        spec=spec, batch_size=opts["batch_size"], progress=progress
                    )
        except EncoderVersion.DoesNotExist as e:
            name = opts["encoder_version"]
            raise CommandError(f"encoder version {name} is not registered") from e
        except (EncoderError, InputError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(f"embedded {count} stickers with {version.version}")
