"""The demo: a library, users, embeddings and a campaign a new user can open at once.

Safe to run again: the library import skips known stickers, users and the campaign are kept,
and an iteration is built only when it has no candidate sets yet.

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
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotation.models import Campaign, CandidateSet
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import candidate_sets_build
from encoder.embedding_services import encoder_spec_from_settings, stickers_embed_with_spec
from encoder.models import EncoderVersion
from encoder.openclip import LoadedEncoder, load_encoder
from encoder.spec import EncoderError, EncoderSpec
from game.services.demo import demo_game_setup

logger = logging.getLogger("demo_setup")

DEMO_CAMPAIGN = "demo"
DEMO_PASSWORD = "demo"
ANNOTATORS = ["annotator1", "annotator2", "annotator3"]
SHIPPED_MODEL = Path(settings.BASE_DIR) / "demo" / "models"
# Random-init fallback: small enough to embed a few hundred stills on a laptop CPU in seconds.
TINY_DEMO_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 128, "patch_size": 16, "head_width": 64},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 2},
}


def demo_setup(
    *, write: Callable[[str], None], progress_bar: Callable[[str], AbstractContextManager]
) -> None:
    """Imports the demo library, makes the demo users, embeds, and opens campaign "demo".

    ``write`` receives one line per step; ``progress_bar(label)`` gives the embedding progress
    callback (the command passes a tqdm bar).
    """
    from annotation.services import demo  # looked up at call time: tests replace the import

    write(demo.demo_library_import().summary())
    write(demo_users_create())
    write(demo_game_setup())  # Sticktionary over the library, withheld stickers to collect
    spec, encoder, note = demo_encoder_load()
    with progress_bar(f"embedding ({encoder.version})") as progress:
        version, count = stickers_embed_with_spec(
            spec=spec, note=note, encoder=encoder, progress=progress
        )
    write(f"embedded {count} stickers with {version.version}")
    campaign = demo_campaign_get_or_create(version=version, note=note, write=write)
    for iteration in (1, 2):
        if CandidateSet.objects.filter(campaign=campaign, iteration=iteration).exists():
            write(f"iteration {iteration}: candidate sets exist, kept")
            continue
        count = candidate_sets_build(campaign=campaign, iteration=iteration)
        write(f"iteration {iteration}: {count} candidate sets")


def demo_users_create() -> str:
    """The admin and the annotators of the demo; returns the line that names them."""
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
    return (
        "users: admin/admin (superuser), "
        + ", ".join(f"{n}/{DEMO_PASSWORD}" for n in ANNOTATORS)
        + " (group annotators)"
    )


def demo_encoder_load() -> tuple[EncoderSpec, LoadedEncoder, str]:
    """The configured encoder if its pretrained weights load, else a fallback; the note
    says which fallback (empty when none), and is logged as one WARNING line."""
    spec = encoder_spec_from_settings()
    if spec.pretrained:
        try:
            return spec, load_encoder(spec), ""
        except EncoderError as e:
            logger.debug(
                "loading GSE_MODEL=%s GSE_PRETRAINED=%s failed: %s", spec.model, spec.pretrained, e
            )
    wanted = f"GSE_MODEL={spec.model} GSE_PRETRAINED={spec.pretrained or '(empty)'}"
    shipped = SHIPPED_MODEL / "demo_encoder.json", SHIPPED_MODEL / "demo_encoder.pt"
    if all(p.is_file() for p in shipped):
        fallback = EncoderSpec(
            model=str(shipped[0]), pretrained=str(shipped[1]), device=settings.GSE_DEVICE
        )
        try:
            encoder = load_encoder(fallback)
            note = (
                f"No pretrained weights could be loaded for {wanted}: using the small "
                "encoder shipped in demo/models, trained only on the demo library "
                "(demo/models/demo_encoder_report.md); candidates are NOT those of a "
                "pretrained CLIP"
            )
            logger.warning(note)
            return fallback, encoder, note
        except EncoderError as e:
            logger.debug("the shipped demo encoder does not load either: %s", e)
    config_path = Path(settings.GSE_MODELS_DIR) / "demo-tiny-random-ViT.json"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(TINY_DEMO_CONFIG, indent=2))
    fallback = EncoderSpec(model=str(config_path), pretrained="", device=settings.GSE_DEVICE)
    note = (
        f"No pretrained weights could be loaded for {wanted}: using a tiny randomly "
        "initialised encoder; candidates are NOT semantically meaningful"
    )
    logger.warning(note)
    return fallback, load_encoder(fallback), note


def demo_campaign_get_or_create(
    *, version: EncoderVersion, note: str, write: Callable[[str], None]
) -> Campaign:
    """The demo campaign, made once with the encoder it was embedded with, and its note."""
    campaign = Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
    if campaign is not None:
        write(f"campaign {DEMO_CAMPAIGN!r} exists, kept")
        return campaign
    # Query texts through a random text tower mean nothing: page 2 of the image view then.
    source = Campaign.Iteration2Source.NEXT_PAGE if note else Campaign.Iteration2Source.TEXT_QUERY
    description = "Demo campaign over the shipped emoji library."
    if note:
        description += f"\nNote: {note}"
    return campaign_create(
        name=DEMO_CAMPAIGN,
        encoder_version=version.version,
        iteration2_source=source,
        description=description,
        # A new user exports before reviewing anything: reviewed-only would be an empty snapshot.
        snapshot_include_unreviewed=True,
    )
