"""Loading OpenCLIP encoders (encoder/openclip.py) with the tiny test config, on CPU."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from encoder.openclip import (
    LoadedEncoder,
    embed_images,
    embed_texts,
    load_encoder,
    spec_version,
)
from encoder.spec import EncoderError, EncoderSpec


def coloured_images(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (40, 30), (40 * i % 256, 90, 200 - 10 * i)) for i in range(n)]


def test_saved_weights_load_back_through_pretrained_path(tiny_openclip, tmp_path):
    # given a tiny model with its own weights (seed 1), saved as a checkpoint file
    torch.manual_seed(1)
    original, _, preprocess = open_clip.create_model_and_transforms(tiny_openclip["name"])
    original.eval()
    checkpoint = tmp_path / "weights.pt"
    torch.save({"state_dict": original.state_dict()}, checkpoint)
    images = coloured_images(5)
    # when it is loaded back by path, the way real pretrained weights are loaded
    loaded = load_encoder(EncoderSpec(model=tiny_openclip["name"], pretrained=str(checkpoint),
                                      device="cpu"))
    # then the embeddings are identical to the original model's
    as_original = LoadedEncoder(
        model=original, preprocess=preprocess, tokenizer=loaded.tokenizer,
        device=torch.device("cpu"), version="original", model_name=loaded.model_name,
        model_config=loaded.model_config, pretrained_identity="",
    )
    np.testing.assert_array_equal(embed_images(loaded, images, 2),
                                  embed_images(as_original, images, 2))
    np.testing.assert_array_equal(embed_texts(loaded, ["thumbs up", "cry"]),
                                  embed_texts(as_original, ["thumbs up", "cry"]))


def test_embeddings_are_unit_float32_rows(tiny_openclip):
    # given
    encoder = load_encoder(EncoderSpec(model=tiny_openclip["config_path"],
                                       pretrained=tiny_openclip["checkpoint"], device="cpu"))
    # when
    images = embed_images(encoder, coloured_images(7), batch_size=3)
    texts = embed_texts(encoder, ["good job", "你说得对", "sad"])
    # then (N, embed_dim) float32, L2-normalised
    assert images.shape == (7, 32) and texts.shape == (3, 32)
    assert images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)


def test_config_json_path_names_the_same_model(tiny_openclip):
    # given the same config by name and by JSON path, with the same checkpoint
    by_name = EncoderSpec(model=tiny_openclip["name"], pretrained=tiny_openclip["checkpoint"])
    by_path = EncoderSpec(model=tiny_openclip["config_path"],
                          pretrained=tiny_openclip["checkpoint"])
    # when
    a = load_encoder(by_path)
    # then the version id is the same, derived from config + checkpoint content
    assert a.version == spec_version(by_name)[3]
    assert a.model_name == tiny_openclip["name"]
    assert a.pretrained_identity.startswith("sha256:")


def test_version_changes_with_the_weights(tiny_openclip, tmp_path):
    # given a second checkpoint with other weights
    torch.manual_seed(2)
    other = tmp_path / "other.pt"
    torch.save(open_clip.create_model(tiny_openclip["name"]).state_dict(), other)
    # when / then
    v1 = spec_version(EncoderSpec(tiny_openclip["name"], tiny_openclip["checkpoint"]))[3]
    v2 = spec_version(EncoderSpec(tiny_openclip["name"], str(other)))[3]
    v_random = spec_version(EncoderSpec(tiny_openclip["name"], ""))[3]
    assert len({v1, v2, v_random}) == 3


def test_random_init_is_seeded_so_its_version_names_one_set_of_weights(tiny_openclip):
    # given / when two loads without pretrained weights
    a = load_encoder(EncoderSpec(tiny_openclip["config_path"], "", "cpu"))
    b = load_encoder(EncoderSpec(tiny_openclip["config_path"], "", "cpu"))
    # then
    images = coloured_images(2)
    np.testing.assert_array_equal(embed_images(a, images), embed_images(b, images))


def test_missing_checkpoint_is_a_clear_error(tiny_openclip, tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(EncoderError, match="checkpoint file not found.*nope.pt"):
        load_encoder(EncoderSpec(model=tiny_openclip["name"], pretrained=str(missing)))


def test_missing_config_file_and_unknown_model_are_clear_errors(tmp_path):
    with pytest.raises(EncoderError, match="config file not found"):
        load_encoder(EncoderSpec(model=str(tmp_path / "absent.json")))
    with pytest.raises(EncoderError, match="not an OpenCLIP model name"):
        load_encoder(EncoderSpec(model="No-Such-Model-42"))


def test_unknown_pretrained_tag_is_a_clear_error(tiny_openclip):
    with pytest.raises(EncoderError, match="GSE_PRETRAINED 'no_such_tag'"):
        load_encoder(EncoderSpec(model=tiny_openclip["name"], pretrained="no_such_tag"))


def test_checkpoint_of_another_architecture_is_a_clear_error(tiny_openclip, tmp_path):
    # given a file that is not this model's weights
    bad = tmp_path / "bad.pt"
    torch.save({"state_dict": {"foo": torch.zeros(1)}}, bad)
    # when / then
    with pytest.raises(EncoderError, match="does not load"):
        load_encoder(EncoderSpec(model=tiny_openclip["name"], pretrained=str(bad)))


def test_hub_tag_offline_fails_fast_and_clearly(monkeypatch, tmp_path):
    # given no network and an empty hub cache
    import time

    from huggingface_hub import constants

    import encoder.openclip as oc

    monkeypatch.setattr(oc, "_hub_reachable", lambda: False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    # when a real pretrained tag is asked for
    started = time.monotonic()
    with pytest.raises(EncoderError, match="laion2b_s34b_b79k.*could not be fetched"):
        load_encoder(EncoderSpec(model="ViT-B-32", pretrained="laion2b_s34b_b79k"))
    # then it says so at once instead of retrying for a minute
    assert time.monotonic() - started < 20
