"""The audit trail of Sticktionary's decisions: a failed round accepted (with its typo fixes) or
discarded, from the API or the admin's actions, and a game created or its settings changed
(command, service, admin form), each with who and when."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.errors import InputError
from audit.models import AuditEvent
from audit.services import NO_USER
from game.models import Game, Round, RoundQuery
from game.services.games import game_create
from game.services.review import round_review
from game.services.rounds import label_next, label_submit, retrieve_next, retrieve_submit
from tests.game.factories import player_create, stickers_create

pytestmark = pytest.mark.django_db


def _failed_round(game: Game, labeler: str, retriever: str, *texts: str) -> Round:
    a, b = player_create(labeler), player_create(retriever)
    r = label_next(user=a, game_name=game.name)
    label_submit(user=a, round_id=r.pk, queries=list(texts))
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[])
    return Round.objects.select_related("sticker").get(pk=r.pk)


@pytest.fixture
def boss():
    return get_user_model().objects.create_superuser("boss", "b@example.com", "pw-boss-123")


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_accepting_a_failed_round_records_who_the_fixes_and_the_queries_kept(boss):
    # given a failed round with a typo
    stickers_create(6)
    game = game_create(name="g")
    round_ = _failed_round(game, "ann", "ben", "helo", "wave")
    typo = RoundQuery.objects.get(round=round_, text="helo").pk
    # when the admin accepts it with the typo fixed
    round_review(reviewer=boss, round_id=round_.pk, decision="accept", fixes={typo: "hello"})
    # then one review event, by the admin, naming the round, the fix and what joined Q_i
    [event] = _events("round_review")
    assert event.actor == boss and event.actor_name == "boss" and event.created_at
    assert event.target == f"round {round_.pk} ({round_.sticker.sticker_id}, en)"
    assert event.details["game"] == "g" and event.details["decision"] == "accept"
    assert event.details["fixes"] == {str(typo): {"before": "helo", "after": "hello"}}
    assert event.details["queries"] == ["hello", "wave"]


def test_discarding_records_the_queries_thrown_away_and_a_refused_review_records_nothing(boss):
    stickers_create(6)
    game = game_create(name="g")
    round_ = _failed_round(game, "ann", "ben", "yellow cat")
    round_review(reviewer=boss, round_id=round_.pk, decision="discard")
    # a second decision on the same round is refused and leaves no row
    with pytest.raises(InputError):
        round_review(reviewer=boss, round_id=round_.pk, decision="accept")
    [event] = _events("round_review")
    assert (event.details["decision"], event.details["queries"]) == ("discard", ["yellow cat"])
    assert event.details["fixes"] == {}


def test_a_review_through_the_api_and_the_admin_action_is_recorded(client, boss):
    stickers_create(8)
    game = game_create(name="g")
    by_api = _failed_round(game, "ann", "ben", "whatever")
    by_admin = _failed_round(game, "cat", "dan", "meh")
    client.force_login(boss)
    assert client.post(f"/api/rounds/{by_api.pk}/review/", {"decision": "discard"},
                       content_type="application/json").status_code == 200
    client.post("/admin/game/round/", {"action": "accept_rounds",
                                       "_selected_action": [by_admin.pk]})
    events = _events("round_review")
    assert [(e.target.split(" (")[0], e.details["decision"], e.actor_name) for e in events] == [
        (f"round {by_api.pk}", "discard", "boss"), (f"round {by_admin.pk}", "accept", "boss")]


def test_creating_and_changing_a_game_is_recorded_with_the_changed_fields(boss):
    # when a game is created from the command line, then its settings changed by a person
    call_command("create_game", "g", "--candidates", "6", stdout=io.StringIO())
    game_create(name="g", candidate_count=12, actor=boss)
    game_create(name="g", candidate_count=12, actor=boss)  # nothing changed: no row
    # then
    [created] = _events("game_create")
    assert created.actor is None and created.actor_name == NO_USER
    assert created.target == "game g" and created.details["candidate_count"] == 6
    [changed] = _events("game_change")
    assert changed.actor == boss
    assert changed.details == {"candidate_count": {"before": 6, "after": 12}}


def test_the_admin_form_records_a_game_created_and_changed(client, boss):
    client.force_login(boss)
    form = {"name": "g", "labelers_per_sticker": 3, "candidate_count": 9,
            "encoder_version": "", "lease_seconds": 600}
    assert client.post("/admin/game/game/add/", form).status_code == 302
    game = Game.objects.get(name="g")
    assert client.post(f"/admin/game/game/{game.pk}/change/",
                       {**form, "labelers_per_sticker": 2}).status_code == 302
    assert _events("game_create")[0].actor == boss
    [changed] = _events("game_change")
    assert changed.details == {"labelers_per_sticker": {"before": 3, "after": 2}}
