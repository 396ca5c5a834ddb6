"""The audit trail: each decision writes who and when; a changed review keeps the earlier one."""

from __future__ import annotations

import io

import pytest

from annotation.models import Campaign
from annotation.services.annotations_io import annotations_export_jsonl
from annotation.services.campaigns import campaign_change, campaign_create, campaign_settings
from annotation.services.queries import queries_import
from audit.models import AuditEvent
from audit.services import NO_USER
from encoder.models import EncoderVersion
from encoder.training_services import encoder_activate_for_campaign, gse_train_start
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild, PairReview, Snapshot
from tests.pairbuilder.helpers import stickers_make, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss():
    return user_make("boss", staff=True)


@pytest.fixture
def build() -> PairBuild:
    s = stickers_make(["a.png", "b.png", "c.png"])
    campaign = Campaign.objects.create(name="audited")
    row = PairBuild.objects.create(campaign=campaign, params={}, status="done", progress=1.0)
    Pair.objects.create(build=row, sticker_a=s["a.png"], sticker_b=s["b.png"], label=1,
                        co_selected=2, co_displayed=2, query_overlap=0, text_cosine=None)
    return row


def _only(action: str) -> AuditEvent:
    rows = list(AuditEvent.objects.filter(action=action))
    assert len(rows) == 1, rows
    return rows[0]


def test_a_changed_review_decision_keeps_the_earlier_one(build, boss):
    # given: a pair accepted by one reviewer
    pair = build.pairs.get()
    first = user_make("first", staff=True)
    services.pair_review_decide(campaign=build.campaign, pair=pair, decision="accept",
                                reviewer=first)
    # when: another reviewer rejects it
    services.pair_review_decide(campaign=build.campaign, pair=pair, decision="reject",
                                reviewer=boss)
    # then: the review holds the current decision, and the trail both, with who and when
    assert PairReview.objects.get().decision == "reject"
    events = list(AuditEvent.objects.filter(action="review").order_by("id"))
    assert [(e.actor_name, e.details["decision"]) for e in events] == [
        ("first", "accept"), ("boss", "reject")]
    assert events[0].details["previous"] is None
    assert events[1].details["previous"]["decision"] == "accept"
    assert events[1].details["previous"]["reviewer"] == "first"
    assert all(e.created_at and e.campaign == build.campaign for e in events)


def test_activation_for_iteration_2_is_recorded(build, boss):
    row = EncoderVersion.objects.create(version="gse-x", kind="gse", model_name="m",
                                        status="done")
    encoder_activate_for_campaign(campaign=build.campaign, encoder_version=row, actor=boss)
    event = _only("activate")
    assert event.actor == boss and event.details["encoder_version"] == "gse-x"
    assert event.details["previous"]["iteration2_encoder_version"] == ""


def test_campaign_create_and_change_are_recorded(boss):
    campaign = campaign_create(name="new", actor=boss)
    before = campaign_settings(campaign)
    campaign.lease_seconds = 60
    campaign.save()
    campaign_change(campaign=campaign, before=before, actor=boss)
    assert _only("campaign_create").actor == boss
    change = _only("campaign_change")
    assert change.actor == boss
    assert change.details == {"lease_seconds": {"before": 600, "after": 60}}


def test_campaign_change_in_the_admin_is_recorded(boss, client):
    # given: a campaign and a superuser in the admin
    campaign = campaign_create(name="admin-edited")
    client.force_login(boss)
    form = client.get(f"/admin/annotation/campaign/{campaign.pk}/change/").context["adminform"]
    data = {k: v for k, v in form.form.initial.items() if v is not None}
    data.update(description="changed in the admin", _save="Save")
    # when: the admin changes its description
    response = client.post(f"/admin/annotation/campaign/{campaign.pk}/change/", data)
    # then: saved, and the change is in the trail with who
    assert response.status_code == 302, response.content[:2000]
    change = _only("campaign_change")
    assert change.actor == boss and change.details["description"]["after"] == \
        "changed in the admin"


def test_imports_and_exports_are_recorded(build, boss, tmp_path):
    # given: a query CSV and a pair file
    csv = tmp_path / "q.csv"
    csv.write_text("sticker_id,labeled_queries\na.png,hello\n")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sticker_id,sticker_id_2,label\na.png,b.png,1\n")
    # when: imported and exported (as a command would: no signed-in user)
    queries_import(csv_path=csv, language="en")
    services.pairs_import(csv_path=pairs, actor=boss)
    services.pairs_export_csv(campaign=build.campaign, out_path=tmp_path / "out.csv",
                              build=build, actor=boss)
    annotations_export_jsonl(campaign=build.campaign, out=io.StringIO())
    # then: four rows, each with who and when
    imports = list(AuditEvent.objects.filter(action="import").order_by("id"))
    assert [e.actor_name for e in imports] == [NO_USER, "boss"]
    assert imports[0].details["created"] == 1 and imports[1].details["pairs"] == 1
    exports = list(AuditEvent.objects.filter(action="export").order_by("id"))
    assert [e.actor_name for e in exports] == ["boss", NO_USER]
    assert all(e.created_at for e in imports + exports)


def test_snapshot_and_training_starts_are_recorded(build, boss, tmp_path):
    # when: a snapshot export is started, and a training on a written snapshot
    snapshot = services.snapshot_start(campaign=build.campaign, build=build, actor=boss)
    written = Snapshot.objects.create(number=snapshot.number + 1, campaign=build.campaign,
                                      build=build, params={}, status="done", path=str(tmp_path))
    row = gse_train_start(snapshot=written, actor=boss)
    # then
    started = _only("snapshot_start")
    assert started.actor == boss and started.details["snapshot"] == snapshot.number
    trained = _only("training_start")
    assert trained.actor == boss and trained.details["version"] == row.version
    assert trained.campaign == build.campaign


def test_the_trail_is_readable_in_the_admin(build, boss, client):
    services.pair_review_decide(campaign=build.campaign, pair=build.pairs.get(),
                                decision="accept", reviewer=boss)
    client.force_login(boss)
    page = client.get("/admin/audit/auditevent/").content.decode()
    assert "pair review decision" in page and "boss" in page
