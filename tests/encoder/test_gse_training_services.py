"""GSE on the Django side: ``manage.py train_gse`` / ``evaluate_gse`` on a generated snapshot
folder, activation for a campaign, similarity between stickers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from encoder.models import EncoderVersion
from tests.encoder.conftest import TINY_TRAIN_FLAGS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_gse_registers_a_model_with_its_report(trained, snapshot_row, tiny_openclip):
    # given / when: train_gse ran on the latest snapshot (fixture)
    # then a finished GSE version is registered with everything needed to reuse and compare it
    assert trained.status == EncoderVersion.Status.DONE and trained.progress == 1.0
    assert trained.snapshot == snapshot_row
    assert trained.train_config["epochs"] == 2 and trained.train_config["seed"] == 1
    assert set(trained.metrics) >= {"gse", "base"}
    for name in ("gse", "base"):
        assert set(trained.metrics[name]) >= {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert trained.threshold == trained.metrics["gse"]["threshold"]
    assert Path(trained.checkpoint).is_file()
    assert trained.model_config["embed_dim"] == 32
    report = Path(trained.report_dir)
    for name in ("report.md", "report.json", "roc.png", "score_histograms.png", "loss.png"):
        assert (report / name).is_file(), name
    assert json.loads((report / "report.json").read_text())["metrics"]["GSE"]["f1"] >= 0


def test_evaluate_gse_reproduces_the_registered_figures(trained, snapshot_row, capsys):
    # given the trained version and its snapshot's files
    folder = Path(snapshot_row.path)
    # when it is evaluated on the test pairs, tuning on the val pairs
    call_command("evaluate_gse", "--model", str(trained.id), "--pairs",
                 str(folder / "pairs_test.csv"), "--images", str(folder / "stickers"),
                 "--val", str(folder / "pairs_val.csv"))
    # then the figures are those train_gse registered (the checkpoint reloads exactly)
    out = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "f1", "roc_auc", "threshold"):
        assert out[key] == pytest.approx(trained.metrics["gse"][key], abs=1e-6)


def test_train_gse_with_an_unknown_snapshot_says_so(db):
    with pytest.raises(CommandError, match="snapshot 7: no such snapshot"):
        call_command("train_gse", "--snapshot", "7")


def test_a_missing_image_marks_the_run_failed(snapshot_row, tiny_openclip):
    # given a snapshot whose sticker file is gone
    (Path(snapshot_row.path) / "stickers" / "c00_s1.png").unlink()
    # when train_gse runs / then it fails naming the sticker, and the row says why
    with pytest.raises(CommandError, match="c00_s1.png"):
        call_command("train_gse", "--snapshot", "1", "--base", tiny_openclip["config_path"],
                     "--pretrained", tiny_openclip["checkpoint"], *TINY_TRAIN_FLAGS)
    row = EncoderVersion.objects.get(kind=EncoderVersion.Kind.GSE)
    assert row.status == EncoderVersion.Status.FAILED and "c00_s1.png" in row.error


def test_activating_a_gse_closes_the_loop(trained, snapshot_row):
    from encoder.training_services import encoder_activate_for_campaign

    # given the campaign the snapshot came from
    campaign = snapshot_row.campaign
    # when the GSE is activated for it
    encoder_activate_for_campaign(campaign=campaign, encoder_version=trained)
    # then iteration 2 retrieves with the retrained encoder
    campaign.refresh_from_db()
    assert campaign.iteration2_source == "retrained"
    assert campaign.iteration2_encoder_version == trained.version


def test_similarity_of_stickers_and_uploads(trained, make_stickers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from encoder.embedding_services import stickers_embed
    from encoder.similarity_services import (
        EmbeddingMissing,
        similarity_job_start,
        similarity_job_status,
        sticker_similarity,
        stickers_most_similar,
    )

    # given three library stickers, not yet embedded under the GSE
    a, b, c = make_stickers(3)
    # then the stored-embedding services refuse them, naming the sticker, and embed nothing
    with pytest.raises(EmbeddingMissing, match=a.sticker_id):
        stickers_most_similar(encoder_version=trained, sticker=a, k=2)
    with pytest.raises(EmbeddingMissing, match=a.sticker_id):
        sticker_similarity(encoder_version=trained, a=a, b=b)
    assert not trained.embeddings.exists()
    # when the library is embedded and a sticker is compared with itself (as an uploaded file,
    # a job that the eager gpu queue scores inline) and with another
    stickers_embed(encoder_version=trained)
    with a.still.open("rb") as f:
        upload = SimpleUploadedFile("a.png", f.read())
    job = similarity_job_start(encoder_version=trained, a=a, b=upload)
    same = similarity_job_status(job=job)
    other = sticker_similarity(encoder_version=trained, a=a, b=b)
    nearest = stickers_most_similar(encoder_version=trained, sticker=a, k=2)
    # then identical stills score 1 and are similar at the tuned threshold
    assert same["status"] == "done"
    assert same["cosine"] == pytest.approx(1.0, abs=1e-5) and same["similar"] is True
    assert same["threshold"] == trained.threshold and same["model"] == trained.version
    job.refresh_from_db()
    assert job.file_b is None  # the upload is not kept once scored
    assert -1.0 <= other["cosine"] <= 1.0
    assert [n["sticker_id"] for n in nearest] != [] and a.sticker_id not in {
        n["sticker_id"] for n in nearest}


def test_an_unreadable_upload_fails_its_job_with_the_reason(trained, make_stickers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from encoder.similarity_services import similarity_job_start

    (a,) = make_stickers(1)
    job = similarity_job_start(encoder_version=trained, a=a,
                               b=SimpleUploadedFile("x.png", b"not an image at all"))
    assert job.status == "failed" and "x.png" in job.error


def test_most_similar_orders_ties_as_the_retrieval_does():
    import numpy as np

    from encoder.retrieval import topk_cosine
    from encoder.similarity_services import nearest_rows

    # given unit vectors with exact ties and a duplicate group (rows 0 and 5 identical)
    rng = np.random.default_rng(3)
    base = rng.normal(size=(12, 8)).astype(np.float32)
    base[7] = base[3]
    base[9] = base[3]  # 3, 7, 9 tie for every anchor
    base[5] = base[0]
    vectors = base / np.linalg.norm(base, axis=1, keepdims=True)
    groups = np.array([0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 10, 11])
    for row in range(12):
        # when the NumPy path and the retrieval rank each anchor's 6 nearest
        rows, scores = nearest_rows(vectors, groups, row, 6)
        idx, ref = topk_cosine(vectors, 6, anchors=np.array([row]), duplicate_group=groups)
        # then the same rows in the same order, the anchor's group left out
        assert rows.tolist() == idx[0].tolist()
        np.testing.assert_allclose(scores, ref[0], rtol=1e-5)
        assert groups[row] not in groups[rows].tolist()


@pytest.mark.parametrize("fallback", ["demo", ""])
def test_without_the_base_weights_the_demo_trains_from_its_shipped_encoder(
        snapshot_row, tiny_openclip, settings, fallback):
    # given GSE_MODEL whose pretrained weights cannot be loaded (as a hub tag without the hub)
    settings.GSE_MODEL = tiny_openclip["config_path"]
    settings.GSE_PRETRAINED = "/nonexistent/weights.pt"
    settings.GSE_BASE_FALLBACK = fallback
    # when train_gse runs from the settings' base
    if not fallback:
        # then outside the demo it fails, naming the weights, and the row says why
        with pytest.raises(CommandError, match="nonexistent"):
            call_command("train_gse", "--snapshot", "1", *TINY_TRAIN_FLAGS)
        row = EncoderVersion.objects.get(kind=EncoderVersion.Kind.GSE)
        assert row.status == EncoderVersion.Status.FAILED
        return
    call_command("train_gse", "--snapshot", "1", *TINY_TRAIN_FLAGS)
    # then in the demo it trains from the shipped demo encoder and the model's note says so
    row = EncoderVersion.objects.get(kind=EncoderVersion.Kind.GSE)
    assert row.status == EncoderVersion.Status.DONE
    assert row.pretrained.endswith("demo/models/demo_encoder.pt")
    assert "No pretrained weights could be loaded" in row.train_config["note"]
    assert "/nonexistent/weights.pt" in row.train_config["note"]
