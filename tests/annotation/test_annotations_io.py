"""Raw annotations in and out as JSON lines; the management commands are thin wrappers."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import Annotation, Campaign, CandidateSet, Skip, Task
from annotation.services.annotations_io import annotations_import_jsonl
from annotation.services.assignment import task_next, task_skip, task_submit
from tests.annotation.campaign_factory import (
    annotator_create,
    campaign_build,
    candidate_ids,
    png_bytes,
    sticker_create,
)

pytestmark = pytest.mark.django_db


def _line(anchor, it, cands, sel, user, skipped=False) -> str:
    return json.dumps({"anchor": anchor, "iteration": it, "candidates": cands,
                       "selected": sel, "skipped": skipped, "annotator": user})


@pytest.fixture
def stickers():
    return [sticker_create(f"k{i}.png", png_bytes(i + 200)).sticker_id for i in range(6)]


def test_import_creates_campaign_sets_tasks_users_and_keeps_good_lines(stickers):
    a, b, c, d, e, f = stickers
    lines = [
        _line(a, 1, [b, c, d], [b], "lab1"),
        _line(a, 1, [b, c, d], [b, c], "lab2"),
        _line(a, 2, [e, f], [], "lab3"),
        _line(a, 2, [e, f], [], "lab4", skipped=True),
        _line("ghost.png", 1, [b, c], [], "lab1"),  # line 5: unknown sticker
        _line(b, 1, [c, d], [e], "lab1"),  # line 6: selection outside the candidates
        "{not json",  # line 7
        _line(a, 1, [b, c, e], [b], "lab5"),  # line 8: contradicts line 1's candidate set
    ]
    # when
    report = annotations_import_jsonl(campaign_name="lab", lines=lines)
    # then
    assert report.created_campaign
    assert (report.annotations, report.skips) == (3, 1)
    assert [n for n, _ in report.rejected] == [5, 6, 7, 8]
    assert "ghost.png" in dict(report.rejected)[5]
    assert "not among the candidates" in dict(report.rejected)[6]
    campaign = Campaign.objects.get(name="lab")
    assert campaign.annotators_per_task == 2  # the most answers any task had
    assert set(CandidateSet.objects.values_list("retrieval_view", flat=True)) == {"imported"}
    statuses = dict(Task.objects.values_list("iteration", "status"))
    assert statuses == {1: "done", 2: "open"}
    lab1 = get_user_model().objects.get(username="lab1")
    assert not lab1.has_usable_password() and lab1.groups.filter(name="annotators").exists()
    assert Skip.objects.count() == 1
    # and importing the same lines again stores nothing twice
    again = annotations_import_jsonl(campaign_name="lab", lines=lines)
    assert again.annotations == 0 and again.already_present == 4
    assert Annotation.objects.count() == 3


def test_export_then_import_round_trips(tmp_path):
    # given: a campaign with answers, a "none" and a skip
    fx = campaign_build(anchors=2, candidates=4)
    u1, u2 = annotator_create("u1"), annotator_create("u2")
    t1 = task_next(annotator=u1, campaign_name=fx.campaign.name)
    task_submit(annotator=u1, task_id=t1.id, selected_ids=candidate_ids(t1)[1:3])
    t2 = task_next(annotator=u2, campaign_name=fx.campaign.name)
    task_submit(annotator=u2, task_id=t2.id, selected_ids=[])
    t3 = task_next(annotator=u1, campaign_name=fx.campaign.name)
    task_skip(annotator=u1, task_id=t3.id)
    out = tmp_path / "out.jsonl"
    # when
    call_command("export_annotations", "--campaign", fx.campaign.name, str(out))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    # then
    assert len(rows) == 3
    assert sum(r["skipped"] for r in rows) == 1
    first = next(r for r in rows if r["annotator"] == "u1" and not r["skipped"])
    assert first["selected"] == candidate_ids(t1)[1:3]
    assert first["candidates"] == candidate_ids(t1)
    # when imported into a new campaign
    call_command("import_annotations", "--campaign", "copy", str(out))
    copy = tmp_path / "copy.jsonl"
    call_command("export_annotations", "--campaign", "copy", str(copy))
    # then the export is the same
    assert copy.read_text() == out.read_text()
