"""``manage.py demo_setup``: a demo a new user can open: library, users, embeddings, campaign.

Safe to run again: migrations are applied, the library import skips known stickers, users and
the campaign are kept, and an iteration is built only when it has no candidate sets yet.

The encoder is GSE_MODEL / GSE_PRETRAINED. Where those weights cannot be loaded (no network, as
in CI) it says so plainly and falls back, first to ``demo/models/demo_encoder.{json,pt}`` when
the project ships one, else to a tiny randomly initialised model whose candidates are NOT
semantically meaningful. The fallback is recorded in the encoder version's
``train_config["note"]`` and the campaign's description, so the pages show it too.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from tqdm import tqdm

from annotation.models import Campaign, CandidateSet
from annotation.services.campaigns import campaign_create
from encoder.models import EncoderVersion
from encoder.openclip import EncoderError, EncoderSpec, load_encoder
from encoder.services import (
    candidate_sets_build,
    encoder_spec_from_settings,
    encoder_version_get_or_create,
    stickers_embed,
)

logger = logging.getLogger("demo_setup")

DEMO_CAMPAIGN = "demo"
DEMO_PASSWORD = "demo"
ANNOTATORS = ["annotator1", "annotator2", "annotator3"]
SHIPPED_MODEL = Path(settings.BASE_DIR) / "demo" / "models"
# Random-init fallback: small enough to embed a few hundred stills on a laptop CPU in seconds.
TINY_DEMO_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 128, "patch_size": 16,
                   "head_width": 64},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2,
                 "layers": 2},
}


class Command(BaseCommand):
    help = "Set up the demo: migrate, import the demo library, users, embeddings, campaign."

    def handle(self, *args, **opts) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        from annotation.services.demo import demo_library_import  # written by the library app

        self.stdout.write(demo_library_import().summary())
        self._users()
        spec, note = self._encoder_spec()
        version = encoder_version_get_or_create(spec=spec, note=note)
        self._embed(version)
        campaign = self._campaign(version, note)
        for iteration in (1, 2):
            if CandidateSet.objects.filter(campaign=campaign, iteration=iteration).exists():
                self.stdout.write(f"iteration {iteration}: candidate sets exist, kept")
                continue
            count = candidate_sets_build(campaign=campaign, iteration=iteration)
            self.stdout.write(f"iteration {iteration}: {count} candidate sets")
        if note:
            self.stderr.write(self.style.WARNING(f"ENCODER: {note}"))

    def _users(self) -> None:
        users = get_user_model()
        group, _ = Group.objects.get_or_create(name="annotators")
        if not users.objects.filter(username="admin").exists():
            users.objects.create_superuser("admin", "admin@example.com", "admin")
        for name in ANNOTATORS:
            user, created = users.objects.get_or_create(username=name)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(group)
        self.stdout.write("users: admin/admin (superuser), "
                          + ", ".join(f"{n}/{DEMO_PASSWORD}" for n in ANNOTATORS)
                          + " (group annotators)")

    def _encoder_spec(self) -> tuple[EncoderSpec, str]:
        """The configured encoder if it loads, else a fallback and the note that says so."""
        spec = encoder_spec_from_settings()
        try:
            load_encoder(spec)
            if spec.pretrained:
                return spec, ""
            reason = f"GSE_PRETRAINED is empty: {spec.model} has random weights"
        except EncoderError as e:
            reason = f"pretrained weights could not be loaded ({e})"
        logger.warning("The configured encoder is not used: %s", reason)
        shipped = SHIPPED_MODEL / "demo_encoder.json", SHIPPED_MODEL / "demo_encoder.pt"
        if all(p.is_file() for p in shipped):
            spec = EncoderSpec(model=str(shipped[0]), pretrained=str(shipped[1]),
                               device=settings.GSE_DEVICE)
            try:
                load_encoder(spec)
                note = f"demo fallback: the small encoder shipped in demo/models; {reason}"
                logger.warning(note)
                return spec, note
            except EncoderError as e:
                logger.warning("The shipped demo encoder does not load either: %s", e)
        config_path = Path(settings.GSE_MODELS_DIR) / "demo-tiny-random-ViT.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(TINY_DEMO_CONFIG, indent=2))
        note = (f"candidates are NOT semantically meaningful: a tiny randomly initialised "
                f"encoder is used because {reason}")
        logger.warning("!" * 72)
        logger.warning(note)
        logger.warning("!" * 72)
        return EncoderSpec(model=str(config_path), pretrained="", device=settings.GSE_DEVICE), note

    def _embed(self, version: EncoderVersion) -> None:
        bar = tqdm(unit="sticker", desc=f"embedding ({version.version})")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        count = stickers_embed(encoder_version=version, progress=progress)
        bar.close()
        self.stdout.write(f"embedded {count} stickers")

    def _campaign(self, version: EncoderVersion, note: str) -> Campaign:
        campaign = Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
        if campaign is not None:
            self.stdout.write(f"campaign {DEMO_CAMPAIGN!r} exists, kept")
            return campaign
        # Query texts through a random text tower mean nothing: page 2 of the image view then.
        source = (Campaign.Iteration2Source.NEXT_PAGE if note
                  else Campaign.Iteration2Source.TEXT_QUERY)
        description = "Demo campaign over the shipped emoji library."
        if note:
            description += f"\nNote: {note}"
        return campaign_create(
            name=DEMO_CAMPAIGN, encoder_version=version.version, iteration2_source=source,
            description=description,
        )
