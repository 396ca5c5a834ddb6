"""GSE core (no Django): training, reproducibility, checkpoints and data errors, on CPU with
the tiny OpenCLIP config and a generated snapshot of 32 px stickers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoder.gse.config import TrainConfig
from encoder.gse.data import (
    GseDataError,
    PairBatches,
    StickerPixels,
    folder_resolver,
    pair_sticker_ids,
    read_queries_csv,
    resolve_images,
    snapshot_pairs_load,
)
from encoder.gse.evaluate import embed_stickers
from encoder.gse.loss import GseLoss
from encoder.gse.model import gse_checkpoint_save, gse_model_load
from encoder.gse.pipeline import gse_run
from encoder.gse.train import cosine_lr, train
from tests.encoder.gse_factory import make_snapshot_folder

FAST = {"epochs": 2, "lr": 1e-3, "batch_size": 8, "warmup_steps": 2, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def snapshot(tmp_path):
    return make_snapshot_folder(tmp_path / "snap")


def _batches(model, snap, config: TrainConfig) -> PairBatches:
    pairs = snapshot_pairs_load(snap["folder"])
    paths = resolve_images(pair_sticker_ids(pairs.train),
                           folder_resolver(snap["folder"] / "stickers"), where="train")
    return PairBatches(pairs.train, StickerPixels(paths, model.preprocess), snap["queries"],
                       model.tokenizer, batch_size=config.batch_size, seed=config.seed)


def test_training_on_a_small_snapshot_lowers_the_loss(tiny_openclip, snapshot):
    # given the tiny model and a snapshot of 6 training concepts in 3 styles
    config = TrainConfig(**{**FAST, "epochs": 4})
    model = gse_model_load(tiny_openclip["config_path"], tiny_openclip["checkpoint"], "cpu")
    batches = _batches(model, snapshot, config)
    # when it trains
    state = train(model, batches, config)
    # then the last epoch's mean loss is below the first's
    per_epoch = np.asarray(state.losses).reshape(config.epochs, -1).mean(axis=1)
    assert per_epoch[-1] < per_epoch[0]
    assert all(p["image_text"] > 0 and p["pair"] >= 0 for p in state.parts)


def test_same_seed_gives_the_same_metrics(tiny_openclip, snapshot, tmp_path):
    # given two runs with the same seed
    snap = snapshot_pairs_load(snapshot["folder"])
    resolver = folder_resolver(snapshot["folder"] / "stickers")

    def run(out: str):
        return gse_run(snapshot=snap, resolver=resolver, queries=snapshot["queries"],
                       base_model=tiny_openclip["config_path"],
                       pretrained=tiny_openclip["checkpoint"], config=TrainConfig(**FAST),
                       out_dir=tmp_path / out)

    # when both run
    first, second = run("a"), run("b")
    # then the losses, metrics and thresholds are identical
    assert first.losses == second.losses
    assert first.metrics() == second.metrics()
    assert set(first.report_files) >= {"markdown", "json", "roc", "histograms", "loss"}


def test_checkpoint_reloads_with_the_same_embeddings(tiny_openclip, snapshot, tmp_path):
    # given a trained model saved as a checkpoint
    config = TrainConfig(**{**FAST, "epochs": 1})
    model = gse_model_load(tiny_openclip["config_path"], tiny_openclip["checkpoint"], "cpu")
    train(model, _batches(model, snapshot, config), config)
    path = gse_checkpoint_save(model, tmp_path / "gse.pt")
    # when it is loaded again through the OpenCLIP pretrained= path
    again = gse_model_load(tiny_openclip["config_path"], str(path), "cpu")
    # then both embed the stickers identically, and differently from the untrained base
    ids = sorted(snapshot["queries"])[:6]
    paths = resolve_images(ids, folder_resolver(snapshot["folder"] / "stickers"), where="t")
    before = embed_stickers(model, StickerPixels(paths, model.preprocess), ids)
    after = embed_stickers(again, StickerPixels(paths, again.preprocess), ids)
    base = gse_model_load(tiny_openclip["config_path"], tiny_openclip["checkpoint"], "cpu")
    untrained = embed_stickers(base, StickerPixels(paths, base.preprocess), ids)
    np.testing.assert_allclose(before, after, atol=1e-6)
    assert before.shape == (6, 32)
    assert not np.allclose(before, untrained, atol=1e-4)


def test_an_empty_split_fails_naming_the_split(snapshot):
    # given a snapshot whose validation file has only its header
    (snapshot["folder"] / "pairs_val.csv").write_text("sticker_id,sticker_id_2,label\n")
    # when it is read / then the message names the file and the split
    with pytest.raises(GseDataError, match=r"pairs_val\.csv \(split 'val'\).*empty"):
        snapshot_pairs_load(snapshot["folder"])


def test_a_missing_image_fails_naming_the_file(tiny_openclip, snapshot, tmp_path):
    # given a snapshot whose test split names a sticker with no image
    (snapshot["folder"] / "stickers" / "c11_s2.png").unlink()
    snap = snapshot_pairs_load(snapshot["folder"])
    # when a run starts / then it fails before training, naming the sticker
    with pytest.raises(GseDataError, match=r"test pairs: image for sticker 'c11_s2\.png'"):
        gse_run(snapshot=snap, resolver=folder_resolver(snapshot["folder"] / "stickers"),
                queries={}, base_model=tiny_openclip["config_path"],
                pretrained=tiny_openclip["checkpoint"], config=TrainConfig(**FAST),
                out_dir=tmp_path / "out")


def test_a_bad_header_names_the_file(tmp_path):
    # given a pair file with another header
    path = tmp_path / "pairs_train.csv"
    path.write_text("a,b,label\nx,y,1\n")
    # when read / then the error names the file and the expected header
    with pytest.raises(GseDataError, match="pairs_train.csv.*sticker_id,sticker_id_2,label"):
        snapshot_pairs_load(tmp_path)


def test_queries_csv_splits_on_both_commas(tmp_path):
    # given a StickerQueries row with ASCII and full-width commas
    path = tmp_path / "q.csv"
    path.write_text('sticker_id,labeled_queries\na.png,"hi, hello，你好, hi"\n')
    # when read / then the queries are split, trimmed and deduplicated
    assert read_queries_csv(path) == {"a.png": ["hi", "hello", "你好"]}


def test_either_loss_part_can_be_switched_off():
    # given unit features of 4 stickers, 4 texts and 2 pairs
    torch.manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    texts = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    args = (images, texts, torch.arange(4), torch.tensor(10.0), torch.tensor([0, 1]),
            torch.tensor([2, 3]), torch.tensor([1.0, 0.0]))
    # when each part is weighted 0 in turn
    only_pairs = GseLoss(image_text_weight=0.0)(*args)
    only_text = GseLoss(pair_weight=0.0)(*args)
    both = GseLoss()(*args)
    # then the total is the other part alone, and both add up
    assert only_pairs.image_text == 0.0 and float(only_pairs.total) == pytest.approx(both.pair)
    assert only_text.pair == 0.0 and float(only_text.total) == pytest.approx(both.image_text)
    assert float(both.total) == pytest.approx(both.pair + both.image_text, rel=1e-5)


def test_the_schedule_warms_up_then_decays_to_zero():
    # given lr 1e-3, 4 warm-up steps of 20
    lrs = [cosine_lr(1e-3, 4, 20, s) for s in range(21)]
    # then it rises linearly to the peak, then falls monotonically to 0
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))
    assert lrs[20] == pytest.approx(0.0, abs=1e-12)


def test_config_rejects_both_weights_zero():
    from encoder.gse.config import TrainConfigError

    with pytest.raises(TrainConfigError, match="both are 0"):
        TrainConfig(image_text_weight=0, pair_weight=0)
