"""Fixtures for the encoder tests: stickers with generated PNG stills, a tiny encoder version."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw


def png_bytes(i: int, size: int = 48) -> bytes:
    """A distinct little drawing per ``i``: background colour and a shape that both vary."""
    image = Image.new("RGB", (size, size), ((37 * i) % 256, (91 * i) % 256, (53 * i + 80) % 256))
    draw = ImageDraw.Draw(image)
    r = 4 + i % 17
    draw.ellipse((size // 2 - r, size // 2 - r, size // 2 + r, size // 2 + r),
                 fill=((13 * i) % 256, 255 - (29 * i) % 256, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_stickers(db) -> Callable[..., list]:
    """``make_stickers(n, start=0, same_still=())`` creates Sticker rows with PNG stills.

    Indices in ``same_still`` get the still of sticker ``start`` (an exact visual duplicate
    with another original file, as a gif and its png export would be).
    """
    from annotation.models import Sticker

    def make(n: int, start: int = 0, same_still: tuple[int, ...] = ()) -> list[Sticker]:
        rows = []
        for i in range(start, start + n):
            still = png_bytes(start if i in same_still else i)
            original = still + f"#{i}".encode()  # distinct file bytes, hence content hash
            sticker = Sticker(
                sticker_id=f"s{i:04d}.png", media_type=Sticker.MediaType.PNG,
                content_hash=hashlib.sha256(original).hexdigest(), size_bytes=len(original),
                width=48, height=48,
            )
            sticker.file.save(f"s{i:04d}.png", ContentFile(original), save=False)
            sticker.still.save(f"s{i:04d}.png", ContentFile(still), save=False)
            sticker.save()
            rows.append(sticker)
        return rows

    return make


@pytest.fixture
def tiny_version(db, tiny_openclip):
    """The tiny model registered as a base encoder version (by its config JSON path)."""
    from encoder.embedding_services import encoder_version_get_or_create
    from encoder.spec import EncoderSpec

    spec = EncoderSpec(model=tiny_openclip["config_path"], pretrained=tiny_openclip["checkpoint"])
    return encoder_version_get_or_create(spec=spec)


# --- GSE: one torch thread, a snapshot row over a generated folder, a tiny trained GSE.

TINY_TRAIN_FLAGS = ["--epochs", "2", "--lr", "1e-3", "--batch-size", "8", "--warmup-steps", "2",
                    "--device", "cpu", "--seed", "1"]


@pytest.fixture
def one_torch_thread():
    """Training tests on one torch thread: the CI box is 2 cores shared by many test runs."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def snapshot_row(db, tmp_path, settings):
    """An exported Snapshot row whose folder holds generated stickers and pairs."""
    from annotation.models import Campaign
    from pairbuilder.models import PairBuild, Snapshot
    from tests.encoder.gse_factory import make_snapshot_folder

    settings.GSE_MODELS_DIR = tmp_path / "models"
    folder = make_snapshot_folder(tmp_path / "snapshot-0001")["folder"]
    campaign = Campaign.objects.create(name="gse-test")
    build = PairBuild.objects.create(campaign=campaign, params={}, status="done")
    return Snapshot.objects.create(number=1, campaign=campaign, build=build, params={},
                                   status=Snapshot.Status.DONE, path=str(folder))


@pytest.fixture
def trained(snapshot_row, tiny_openclip):
    """The GSE that ``train_gse`` registers for ``snapshot_row`` with the tiny OpenCLIP."""
    from django.core.management import call_command

    from encoder.models import EncoderVersion

    call_command("train_gse", "--snapshot", "latest", "--base", tiny_openclip["config_path"],
                 "--pretrained", tiny_openclip["checkpoint"], *TINY_TRAIN_FLAGS)
    return EncoderVersion.objects.get(kind=EncoderVersion.Kind.GSE)
