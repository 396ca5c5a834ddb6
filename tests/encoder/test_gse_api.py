"""GSE API and campaign page: similarity (ids and uploads), most similar, admin training with
progress on the gpu queue (inline in tests), activation, the model-registry panel."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from encoder.models import EncoderVersion

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def user_client(db):
    """An annotator: the similarity endpoints are for annotators and staff."""
    from tests.annotation.campaign_factory import annotator_create

    client = APIClient()
    client.force_authenticate(annotator_create("ann", password="x"))
    return client


@pytest.fixture
def admin_client(db):
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_superuser("root", password="x"))
    return client


def test_similarity_needs_a_login(db):
    assert APIClient().post("/api/similarity/", {}).status_code in (401, 403)


def test_similarity_of_two_ids_and_of_an_upload(trained, make_stickers, user_client):  # noqa: F811
    from encoder.embedding_services import stickers_embed

    # given two library stickers embedded under the trained GSE
    a, b = make_stickers(2)
    stickers_embed(encoder_version=trained)
    # when two ids are compared, then one id with its own still uploaded (a gpu job, inline
    # with eager Celery)
    by_id = user_client.post("/api/similarity/", {"sticker_a": a.sticker_id,
                                                  "sticker_b": b.sticker_id}, format="json")
    with a.still.open("rb") as f:
        upload = SimpleUploadedFile("mine.png", f.read(), content_type="image/png")
    by_file = user_client.post("/api/similarity/", {"sticker_a": a.sticker_id, "file_b": upload},
                               format="multipart")
    # then both answer cosine / similar / threshold / model, the default model being the GSE
    assert by_id.status_code == 200, by_id.json()
    assert set(by_id.json()) == {"cosine", "similar", "threshold", "model"}
    assert by_id.json()["model"] == trained.version
    assert by_file.status_code == 200, by_file.json()
    assert set(by_file.json()) == {"cosine", "similar", "threshold", "model"}
    assert by_file.json()["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert by_file.json()["similar"] is True


def test_a_sticker_without_a_stored_embedding_is_a_409_not_an_embed(trained, make_stickers,  # noqa: F811
                                                                   user_client):
    # given two library stickers that the GSE has not embedded yet
    a, b = make_stickers(2)
    # when they are compared, or the most similar to one is asked for
    pair = user_client.post("/api/similarity/", {"sticker_a": a.sticker_id,
                                                 "sticker_b": b.sticker_id}, format="json")
    similar = user_client.get(f"/api/stickers/{a.sticker_id}/similar/?k=2")
    # then 409 naming the sticker and the model, and nothing was embedded inside the request
    for r in (pair, similar):
        assert r.status_code == 409, r.json()
        assert a.sticker_id in r.json()["detail"] and trained.version in r.json()["detail"]
    assert not trained.embeddings.exists()


def test_an_upload_nobody_scores_in_time_is_a_202_with_a_poll_url(
    trained, make_stickers, user_client, monkeypatch, settings,  # noqa: F811
):
    from encoder import tasks
    from tests.annotation.campaign_factory import annotator_create

    # given no gpu worker answering (the message goes nowhere) and a short bound on the wait
    sent = []
    monkeypatch.setattr(tasks.similarity_job_task, "apply_async", lambda **kw: sent.append(kw))
    settings.SIMILARITY_WAIT_S = 0.2
    (a,) = make_stickers(1)
    with a.still.open("rb") as f:
        upload = SimpleUploadedFile("mine.png", f.read(), content_type="image/png")
    # when an upload is compared
    r = user_client.post("/api/similarity/", {"sticker_a": a.sticker_id, "file_b": upload},
                         format="multipart")
    # then 202 with the job's poll URL and Retry-After, the job sent to the gpu queue
    assert r.status_code == 202, r.json()
    assert r["Retry-After"] == "1" and r.json()["status"] == "pending"
    assert sent == [{"kwargs": {"job_id": r.json()["id"]}, "queue": "gpu"}]
    poll = r.json()["poll"]
    assert user_client.get(poll).json()["status"] == "pending"
    # and another annotator cannot read it
    other = APIClient()
    other.force_authenticate(annotator_create("ann2", password="x"))
    assert other.get(poll).status_code == 404
    # when a worker then scores it, the poll gives the answer
    tasks.similarity_job_task(job_id=r.json()["id"])
    done = user_client.get(poll).json()
    assert done["status"] == "done" and done["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert done["similar"] is True and done["model"] == trained.version


def test_similarity_names_the_missing_sticker(trained, user_client):  # noqa: F811
    r = user_client.post("/api/similarity/", {"sticker_a": "nope.png", "sticker_b": "x.png"},
                         format="json")
    assert r.status_code == 400 and "nope.png" in r.json()["detail"]


def test_most_similar(trained, make_stickers, user_client):  # noqa: F811
    from encoder.embedding_services import stickers_embed

    # given four library stickers, embedded under the GSE
    a, *_ = make_stickers(4)
    stickers_embed(encoder_version=trained)
    # when the 2 most similar to the first are asked for
    r = user_client.get(f"/api/stickers/{a.sticker_id}/similar/?k=2")
    # then two other stickers come back, best first
    assert r.status_code == 200, r.json()
    results = r.json()["results"]
    assert len(results) == 2 and a.sticker_id not in [x["sticker_id"] for x in results]
    assert results[0]["cosine"] >= results[1]["cosine"]


def test_training_is_admin_only(snapshot_row, user_client):  # noqa: F811
    assert user_client.post("/api/encoders/train/", {}, format="json").status_code == 403


def test_admin_starts_training_and_reads_its_progress(
    snapshot_row, tiny_openclip, admin_client, django_capture_on_commit_callbacks,  # noqa: F811
):
    # given an admin and an exported snapshot
    body = {"snapshot": "latest", "base": tiny_openclip["config_path"],
            "pretrained": tiny_openclip["checkpoint"], "epochs": 1, "lr": 1e-3, "batch_size": 8}
    # when the training is started (the task runs inline on commit in tests)
    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post("/api/encoders/train/", body, format="json")
    # then it was accepted as pending and its poll shows it finished with metrics
    assert started.status_code == 202, started.json()
    assert started.json()["status"] == "pending"
    polled = admin_client.get(f"/api/encoders/{started.json()['id']}/").json()
    assert polled["status"] == "done" and polled["progress"] == 1.0
    assert polled["gse"]["f1"] is not None and polled["base"]["f1"] is not None


def test_the_training_task_goes_to_the_gpu_queue(snapshot_row, monkeypatch,  # noqa: F811
                                                 django_capture_on_commit_callbacks):
    from encoder import tasks
    from encoder.training_services import gse_train_start

    sent = []
    monkeypatch.setattr(tasks.gse_train_task, "apply_async",
                        lambda **kw: sent.append(kw))
    # when a training is started
    with django_capture_on_commit_callbacks(execute=True):
        row = gse_train_start(snapshot=snapshot_row)
    # then the task is sent to the gpu queue with the row's id, once committed
    assert sent == [{"kwargs": {"encoder_version_id": row.id}, "queue": "gpu"}]


def test_admin_activates_a_model_and_the_page_shows_it(trained, snapshot_row, admin_client,  # noqa: F811
                                                      client):
    # given the trained GSE and its campaign
    campaign = snapshot_row.campaign
    # when an admin activates it for iteration 2
    r = admin_client.post(f"/api/campaigns/{campaign.name}/iteration2-encoder/",
                          {"encoder_version": trained.version}, format="json")
    # then the campaign uses it and the registry panel lists it with both models' figures
    assert r.status_code == 200 and r.json()["iteration2_source"] == "retrained"
    client.force_login(get_user_model().objects.get(username="root"))
    page = client.get(f"/campaigns/{campaign.name}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert trained.version in html and "used for iteration 2" in html
    assert "Train GSE on latest snapshot (#1)" in html


def test_page_buttons_train_and_activate(trained, snapshot_row, client):  # noqa: F811
    # given a staff member on the campaign page
    get_user_model().objects.create_superuser("boss", password="x")
    client.login(username="boss", password="x")
    campaign = snapshot_row.campaign
    # when "Use for iteration 2" is pressed
    r = client.post(f"/campaigns/{campaign.name}/models/activate/",
                    {"encoder_version": trained.id})
    # then it redirects back to the panel and the campaign uses the model
    assert r.status_code == 302 and r["Location"].endswith("#models")
    campaign.refresh_from_db()
    assert campaign.iteration2_encoder_version == trained.version
    assert EncoderVersion.objects.filter(kind="gse").count() == 1
