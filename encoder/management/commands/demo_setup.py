"""``manage.py demo_setup``: a demo a new user can open: library, users, embeddings, campaign.

Safe to run again: migrations are applied, the library import skips known stickers, users and
the campaign are kept, and an iteration is built only when it has no candidate sets yet.

The encoder is GSE_MODEL / GSE_PRETRAINED. Where those weights cannot be loaded (no network, as
in CI) it says so plainly, in one WARNING line naming both settings (the load error itself is
logged at DEBUG), and falls back, first to ``demo/models/demo_encoder.{json,pt}`` when the
project ships one (a small encoder trained on the demo library only), else to a tiny randomly
initialised model whose candidates are NOT semantically meaningful. The fallback is recorded
in the encoder version's ``train_config["note"]`` and the campaign's description, so the
pages show it too.
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

from annotation.models import Campaign, CandidateSet
from annotation.services.campaigns import campaign_create
from encoder.management.commands.embed_stickers import progress_bar
from encoder.models import EncoderVersion
from encoder.openclip import EncoderError, EncoderSpec, LoadedEncoder, load_encoder
from encoder.services import (
    candidate_sets_build,
    encoder_spec_from_settings,
    stickers_embed_with_spec,
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
        spec, encoder, note = self._encoder()
        with progress_bar(f"embedding ({encoder.version})") as progress:
            version, count = stickers_embed_with_spec(spec=spec, note=note, encoder=encoder,
                                                      progress=progress)
        self.stdout.write(f"embedded {count} stickers with {version.version}")
        campaign = self._campaign(version, note)
        for iteration in (1, 2):
            if CandidateSet.objects.filter(campaign=campaign, iteration=iteration).exists():
                self.stdout.write(f"iteration {iteration}: candidate sets exist, kept")
                continue
            count = candidate_sets_build(campaign=campaign, iteration=iteration)
            self.stdout.write(f"iteration {iteration}: {count} candidate sets")

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

    def _encoder(self) -> tuple[EncoderSpec, LoadedEncoder, str]:
        """The configured encoder if its pretrained weights load, else a fallback; the note
        says which fallback (empty when none), and is logged as one WARNING line."""
        spec = encoder_spec_from_settings()
        if spec.pretrained:
            try:
                return spec, load_encoder(spec), ""
            except EncoderError as e:
                logger.debug("loading GSE_MODEL=%s GSE_PRETRAINED=%s failed: %s",
                             spec.model, spec.pretrained, e)
        wanted = f"GSE_MODEL={spec.model} GSE_PRETRAINED={spec.pretrained or '(empty)'}"
        shipped = SHIPPED_MODEL / "demo_encoder.json", SHIPPED_MODEL / "demo_encoder.pt"
        if all(p.is_file() for p in shipped):
            fallback = EncoderSpec(model=str(shipped[0]), pretrained=str(shipped[1]),
                                   device=settings.GSE_DEVICE)
            try:
                encoder = load_encoder(fallback)
                note = (f"No pretrained weights could be loaded for {wanted}: using the small "
                        "encoder shipped in demo/models, trained only on the demo library "
                        "(demo/models/demo_encoder_report.md); candidates are NOT those of a "
                        "pretrained CLIP")
                logger.warning(note)
                return fallback, encoder, note
            except EncoderError as e:
                logger.debug("the shipped demo encoder does not load either: %s", e)
        config_path = Path(settings.GSE_MODELS_DIR) / "demo-tiny-random-ViT.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(TINY_DEMO_CONFIG, indent=2))
        fallback = EncoderSpec(model=str(config_path), pretrained="", device=settings.GSE_DEVICE)
        note = (f"No pretrained weights could be loaded for {wanted}: using a tiny randomly "
                "initialised encoder; candidates are NOT semantically meaningful")
        logger.warning(note)
        return fallback, load_encoder(fallback), note

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
