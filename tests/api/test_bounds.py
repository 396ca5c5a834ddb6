"""Every input bounded before it reaches the database: the issue's reproductions 1-5 and their
neighbours each answer 400 naming the field (or 404 for an id no row can have), never 500, and
store nothing."""

from __future__ import annotations

import pytest

from annotation.models import Annotation
from pairbuilder.models import PairBuild, Snapshot

HUGE = 10**23
PAST_BIGINT = 2**63  # 9223372036854775808


def _lease(client, name: str) -> dict:
    return client.post(f"/api/campaigns/{name}/tasks/next/").json()


def test_repro1_a_huge_duration_is_a_400_naming_duration_ms(world):
    # given a leased task
    task = _lease(world.annotator1, world.name)
    # when the answer says it took 10^23 ms
    resp = world.annotator1.post(f"/api/tasks/{task['id']}/submit/",
                                 {"none": True, "duration_ms": HUGE}, format="json")
    # then 400 naming the field, nothing stored
    assert resp.status_code == 400
    assert "duration_ms" in resp.json()
    assert Annotation.objects.count() == 0


@pytest.mark.parametrize("body", [[1], "x", True])
def test_a_submit_body_not_an_object_is_a_400_storing_nothing(world, body):
    # given a leased task
    task = _lease(world.annotator1, world.name)
    # when the answer's body is JSON but not an object
    resp = world.annotator1.post(f"/api/tasks/{task['id']}/submit/?next={world.name}", body,
                                 format="json")
    # then 400 saying what was expected, nothing stored
    assert resp.status_code == 400
    assert "Expected a dictionary" in str(resp.json()["non_field_errors"])
    assert Annotation.objects.count() == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"selected": ["x" * 256]}, "selected"),
    ({"selected": [str(i) for i in range(101)]}, "selected"),
    ({"none": True, "submission_id": "s" * 65}, "submission_id"),
    ({"none": True, "duration_ms": -1}, "duration_ms"),
    ({"none": "maybe"}, "none"),
])
def test_submit_fields_are_bounded_and_named(world, body, field):
    task = _lease(world.annotator1, world.name)
    resp = world.annotator1.post(f"/api/tasks/{task['id']}/submit/", body, format="json")
    assert resp.status_code == 400 and field in resp.json()
    assert Annotation.objects.count() == 0


def test_a_form_encoded_submit_is_validated_like_json(world):
    # given a leased task, when the answer comes as a form (a list field repeated)
    task = _lease(world.annotator1, world.name)
    both = world.annotator1.post(f"/api/tasks/{task['id']}/submit/",
                                 {"none": "true", "selected": ["a"]})
    assert both.status_code == 400 and "non_field_errors" in both.json()
    ok = world.annotator1.post(f"/api/tasks/{task['id']}/submit/", {"none": "true"})
    # then the same checks apply and a valid form is stored
    assert ok.status_code == 201 and ok.json()["selected"] == []
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize("exclude", ["4,99999999999999999999999", str(PAST_BIGINT), "-3",
                                     "1e3", "٣", ",".join(str(i) for i in range(1, 103))])
def test_repro2_an_exclude_out_of_range_is_a_400_naming_exclude(world, exclude):
    # when the next task is asked for excluding an id no bigint holds (or too many ids)
    resp = world.annotator1.post(f"/api/campaigns/{world.name}/tasks/next/?exclude={exclude}")
    # then 400 naming the parameter
    assert resp.status_code == 400
    assert "exclude" in resp.json()


def test_repro2_via_submit_next_is_refused_before_the_answer_is_stored(world):
    # given a leased task
    task = _lease(world.annotator1, world.name)
    # when the answer asks for the next task with an out-of-range exclude
    resp = world.annotator1.post(
        f"/api/tasks/{task['id']}/submit/?next={world.name}&exclude=4,99999999999999999999999",
        {"none": True}, format="json")
    # then 400 naming exclude, and nothing stored
    assert resp.status_code == 400
    assert "exclude" in resp.json()
    assert Annotation.objects.count() == 0


@pytest.mark.parametrize("task_id", [PAST_BIGINT, 0])
def test_a_task_id_no_row_can_have_is_a_404(world, task_id):
    for action in ("submit", "skip"):
        resp = world.annotator1.post(f"/api/tasks/{task_id}/{action}/", {"none": True},
                                     format="json")
        assert resp.status_code == 404, action


@pytest.fixture
def build(world) -> PairBuild:
    return PairBuild.objects.create(campaign=world.fx.campaign, status=PairBuild.Status.DONE,
                                    params={}, counts={})


@pytest.mark.parametrize("query, field", [
    (f"offset={PAST_BIGINT}", "offset"), ("offset=-1", "offset"), ("offset=x", "offset"),
    ("limit=0", "limit"), ("limit=501", "limit"), (f"limit={HUGE}", "limit"),
    ("label=7", "label"), ("label=x", "label"), ("unreviewed=maybe", "unreviewed"),
])
def test_repro3_pair_page_parameters_out_of_range_are_a_400_naming_them(world, build, query,
                                                                         field):
    resp = world.admin.get(f"/api/pair-builds/{build.pk}/pairs/?{query}")
    assert resp.status_code == 400
    assert field in resp.json()


def test_repro3_the_largest_offset_is_an_empty_page(world, build):
    resp = world.admin.get(f"/api/pair-builds/{build.pk}/pairs/?offset={PAST_BIGINT - 1}")
    assert resp.status_code == 200
    assert resp.json()["pairs"] == []


@pytest.mark.parametrize("body, field", [
    ({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"), ({"seed": HUGE}, "seed"),
    ({"build_id": PAST_BIGINT}, "build_id"), ({"ratios": [0, 0, 0]}, "ratios"),
    ({"ratios": [1, 1]}, "ratios"), ({"ratios": ["nan", 1, 1]}, "ratios"),
])
def test_repro4_a_snapshot_with_a_bad_seed_or_ratios_is_a_400_and_stores_no_row(world, build,
                                                                                body, field):
    resp = world.admin.post(f"/api/campaigns/{world.name}/snapshots/", body, format="json")
    assert resp.status_code == 400
    assert field in resp.json()
    assert Snapshot.objects.count() == 0


@pytest.mark.parametrize("body", [[1], "x", True, None, {"encoder_version": ["a"]},
                                  {"encoder_version": "x" * 500}, {}])
def test_repro5_activating_an_encoder_with_a_body_not_an_object_is_a_400(world, body):
    resp = world.admin.post(f"/api/campaigns/{world.name}/iteration2-encoder/", body,
                            format="json")
    assert resp.status_code == 400


@pytest.mark.parametrize("body, field", [
    ({"min_positive": HUGE}, "min_positive"), ({"min_displayed": 0}, "min_displayed"),
    ({"max_text_cosine": 2}, "max_text_cosine"), ({"max_query_overlap": -1}, "max_query_overlap"),
])
def test_pair_build_parameters_are_bounded(world, body, field):
    resp = world.admin.post(f"/api/campaigns/{world.name}/pair-builds/", body, format="json")
    assert resp.status_code == 400
    assert field in resp.json()
    assert PairBuild.objects.count() == 0


@pytest.mark.parametrize("query, field", [("k=abc", "k"), (f"k={HUGE}", "k"), ("k=0", "k"),
                                          ("model=" + "m" * 300, "model")])
def test_most_similar_parameters_are_bounded(world, query, field):
    sticker = world.fx.stickers[0].sticker_id
    resp = world.annotator1.get(f"/api/stickers/{sticker}/similar/?{query}")
    assert resp.status_code == 400
    assert field in resp.json()


@pytest.mark.parametrize("body, field", [
    ({"snapshot": "²"}, "snapshot"), ({"snapshot": str(HUGE)}, "snapshot"),
    ({"epochs": HUGE}, "epochs"), ({"seed": -1}, "seed"), ({"lr": "inf"}, "lr"),
    ({"image_text_weight": 0, "pair_weight": 0}, "pair_weight"),
])
def test_training_parameters_are_bounded(world, body, field):
    resp = world.admin.post("/api/encoders/train/", body, format="json")
    assert resp.status_code == 400
    assert field in resp.json()


@pytest.mark.parametrize("url", ["/api/campaigns/a%00b/progress/",
                                 "/api/annotations/?campaign=a%00b"])
def test_a_nul_character_in_the_url_is_a_400(world, url):
    assert world.annotator1.get(url).status_code == 400


def test_my_answers_filter_is_bounded(world):
    resp = world.annotator1.get("/api/annotations/?campaign=" + "c" * 201)
    assert resp.status_code == 400
    assert "campaign" in resp.json()
