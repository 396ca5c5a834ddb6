"""Surface baselines (encoder/gse/baselines.py) and their scoring under the GSE protocol;
pure: no database, no model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from annotation.errors import InputError
from encoder.gse.baselines import SURFACE_BASELINES, pair_similarity
from encoder.gse.data import PairRow, folder_resolver, snapshot_pairs_load
from encoder.gse.evaluate import evaluate_baselines
from tests.encoder.gse_factory import make_snapshot_folder


def drawing(ink: tuple[int, int, int], background=(255, 255, 255), size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 40, 40), fill=ink)
    draw.rectangle((36, 30, 58, 58), fill=ink)
    return image


@pytest.mark.parametrize("name", sorted(SURFACE_BASELINES))
def test_identical_images_score_one(name):
    # given two copies of one drawing
    a, b = drawing((200, 20, 20)), drawing((200, 20, 20))
    # when / then
    assert pair_similarity(name, a, b) == pytest.approx(1.0)


def test_a_colour_swap_moves_the_histogram_and_not_the_hash():
    # given the same shapes, inked red in one and blue in the other (both dark on white)
    red, blue = drawing((200, 20, 20)), drawing((20, 20, 200))
    # when
    histogram = pair_similarity("histogram", red, blue)
    dhash = pair_similarity("dhash", red, blue)
    # then the hash, built on grey-level gradients, still sees the same drawing
    assert dhash == pytest.approx(1.0)
    # and the histogram sees only the shared white background
    assert histogram < 0.99
    assert histogram < dhash


def test_a_different_drawing_scores_lower_on_pixels_and_hash():
    # given one drawing and a mirrored copy
    a = drawing((0, 0, 0))
    b = a.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    # when / then
    assert pair_similarity("pixels", a, b) < 0.9
    assert pair_similarity("dhash", a, b) < 0.9


def test_hash_score_is_one_minus_hamming_over_64():
    # given two different drawings
    import imagehash

    a = drawing((0, 0, 0))
    b = a.rotate(90)
    # when
    score = pair_similarity("dhash", a, b)
    # then
    hamming = imagehash.dhash(a) - imagehash.dhash(b)
    assert score == pytest.approx(1 - hamming / 64)


def test_baselines_follow_the_gse_protocol(tmp_path):
    # given a generated snapshot (concepts drawn in several colour styles)
    folder = make_snapshot_folder(tmp_path / "snap")["folder"]
    snap = snapshot_pairs_load(folder)
    resolver = folder_resolver(folder / "stickers")
    # when
    out = evaluate_baselines(sorted(SURFACE_BASELINES), test=snap.test, val=snap.val,
                             resolver=resolver)
    # then each has a threshold tuned on validation, test metrics and Recall@k
    for name, ev in out.items():
        assert ev.threshold_source == "val", name
        assert ev.metrics["n_pairs"] == len(snap.test)
        assert 0.0 <= ev.metrics["roc_auc"] <= 1.0
        assert "recall@5" in ev.retrieval
    # and the hash scores are hash similarities (multiples of 1/64)
    scores = out["dhash"].test.scores
    assert np.allclose(scores * 64, np.round(scores * 64))


def test_a_test_split_without_negatives_is_refused(tmp_path):
    # given a test split with positives only
    folder = make_snapshot_folder(tmp_path / "snap")["folder"]
    snap = snapshot_pairs_load(folder)
    only_positive = [p for p in snap.test if p.label == 1]
    # when / then
    with pytest.raises(InputError) as caught:
        evaluate_baselines(["pixels"], test=only_positive, val=snap.val,
                           resolver=folder_resolver(folder / "stickers"))
    message = str(caught.value)
    assert message.startswith("test split:")
    assert "no negative pair" in message
    assert "stickers without queries cannot become negatives" in message


def test_a_validation_split_without_positives_is_refused(tmp_path):
    # given a validation split with negatives only
    folder = make_snapshot_folder(tmp_path / "snap")["folder"]
    snap = snapshot_pairs_load(folder)
    only_negative = [PairRow(*p[:2], 0) for p in snap.val if p.label == 0]
    # when / then
    with pytest.raises(InputError, match="validation split: .* no positive pair"):
        evaluate_baselines(["pixels"], test=snap.test, val=only_negative,
                           resolver=folder_resolver(folder / "stickers"))


def test_a_webm_sticker_is_read_as_its_first_frame(tmp_path):
    from encoder.gse.data import load_still
    from tests.annotation.campaign_factory import webm_bytes

    # given a webm video sticker in a pair folder, as in the public Triple-S images
    path = tmp_path / "v.webm"
    path.write_bytes(webm_bytes())
    # when it is scored by a surface baseline
    still = load_still(path)
    vectors = SURFACE_BASELINES["pixels"].embed(["v.webm"], {"v.webm": path})
    # then its first frame was used
    assert still.mode == "RGB" and still.size[0] > 0
    assert vectors.shape == (1, 3072)
