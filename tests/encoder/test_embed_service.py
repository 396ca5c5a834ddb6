"""Embedding stickers (encoder.embedding_services, ``manage.py embed_stickers``) with the tiny
OpenCLIP model."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from encoder.embedding_services import (
    embeddings_load,
    encoder_version_get_or_create,
    stickers_embed,
)
from encoder.models import EncoderVersion, StickerEmbedding
from encoder.openclip import spec_version
from encoder.spec import EncoderError, EncoderSpec

pytestmark = pytest.mark.django_db


def test_registers_a_base_version_under_its_deterministic_id(tiny_openclip):
    # given
    spec = EncoderSpec(model=tiny_openclip["config_path"], pretrained=tiny_openclip["checkpoint"])
    # when registered twice, once with a note
    first = encoder_version_get_or_create(spec=spec)
    second = encoder_version_get_or_create(spec=spec, note="fallback")
    # then one row, named by config + checkpoint hash, with the note kept
    assert first.pk == second.pk
    assert first.version == spec_version(spec)[3]
    assert first.kind == EncoderVersion.Kind.BASE
    assert first.model_config["embed_dim"] == 32
    second.refresh_from_db()
    assert second.train_config["note"] == "fallback"


def test_embeds_every_sticker_once_as_float32_unit_vectors(make_stickers, tiny_version):
    # given 7 stickers
    make_stickers(7)
    seen: list[tuple[int, int]] = []
    # when embedded in batches of 3
    count = stickers_embed(encoder_version=tiny_version, batch_size=3,
                           progress=lambda done, total: seen.append((done, total)))
    # then all 7 are stored under the version, with progress per batch
    assert count == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]
    matrix = embeddings_load(encoder_version=tiny_version.version)
    assert matrix.vectors.shape == (7, 32) and matrix.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix.vectors, axis=1), 1.0, atol=1e-5)


def test_embeds_only_what_is_missing(make_stickers, tiny_version):
    # given 4 stickers already embedded, then 3 new ones
    make_stickers(4)
    stickers_embed(encoder_version=tiny_version, batch_size=8)
    before = dict(StickerEmbedding.objects.values_list("sticker_id", "created_at"))
    make_stickers(3, start=4)
    # when embedding again
    count = stickers_embed(encoder_version=tiny_version, batch_size=8)
    # then only the 3 new ones are embedded and the old rows are untouched
    assert count == 3
    assert StickerEmbedding.objects.count() == 7
    after = dict(StickerEmbedding.objects.values_list("sticker_id", "created_at"))
    assert all(after[k] == v for k, v in before.items())
    assert stickers_embed(encoder_version=tiny_version) == 0


def test_a_changed_checkpoint_file_is_refused(make_stickers, tiny_openclip, tmp_path):
    # given a version registered for a checkpoint whose file is then overwritten
    import shutil

    import open_clip
    import torch

    checkpoint = tmp_path / "w.pt"
    shutil.copy(tiny_openclip["checkpoint"], checkpoint)
    version = encoder_version_get_or_create(
        spec=EncoderSpec(model=tiny_openclip["config_path"], pretrained=str(checkpoint)))
    torch.manual_seed(5)
    torch.save(open_clip.create_model(tiny_openclip["name"]).state_dict(), checkpoint)
    make_stickers(1)
    # when / then
    with pytest.raises(EncoderError, match="checkpoint file changed"):
        stickers_embed(encoder_version=version)


def test_command_embeds_with_a_model_given_on_the_command_line(make_stickers, tiny_openclip):
    # given 3 stickers
    make_stickers(3)
    out = io.StringIO()
    # when the tiny model and its saved weights are named on the command line
    call_command("embed_stickers", "--model", tiny_openclip["config_path"],
                 "--pretrained", tiny_openclip["checkpoint"], "--device", "cpu", stdout=out)
    # then one base version is registered and holds the 3 embeddings
    version = EncoderVersion.objects.get()
    assert version.pretrained == tiny_openclip["checkpoint"]
    assert StickerEmbedding.objects.filter(encoder_version=version).count() == 3
    assert f"embedded 3 stickers with {version.version}" in out.getvalue()


def test_command_with_weights_that_do_not_load_registers_nothing(make_stickers, tiny_openclip,
                                                                 tmp_path):
    # given a checkpoint file that exists but is not a checkpoint
    make_stickers(2)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch checkpoint")
    # when / then the command fails naming the file, and no version row is left behind
    with pytest.raises(CommandError, match="broken.pt"):
        call_command("embed_stickers", "--model", tiny_openclip["config_path"],
                     "--pretrained", str(broken), stdout=io.StringIO())
    assert not EncoderVersion.objects.exists()
    assert not StickerEmbedding.objects.exists()
