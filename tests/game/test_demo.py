"""The demo's Sticktionary: a game on the demo library, withheld stickers offered first, demo
players able to play a round each way, and a rerun that keeps what was played."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from annotation.models import Query, Sticker
from annotation.services.demo import demo_library_import, demo_queries_withheld
from annotation.services.queries import queries_import
from game.models import Game, Player
from game.services.demo import DEMO_GAME, demo_game_setup
from game.services.rounds import label_next, label_submit, retrieve_next, retrieve_submit
from tests.annotation.campaign_factory import annotator_create

pytestmark = pytest.mark.django_db

DEMO = Path(django_settings.BASE_DIR) / "demo"


def _mini_demo(root: Path, kept: int = 8, withheld: int = 4) -> set[str]:
    """A copy of the demo folder with a few stickers of each kind; returns the withheld ids."""
    names = sorted(p.name for p in (DEMO / "stickers").iterdir() if p.suffix == ".png")
    chosen = ([n for n in names if not demo_queries_withheld(n)][:kept]
              + [n for n in names if demo_queries_withheld(n)][:withheld])
    (root / "stickers").mkdir(parents=True)
    for name in chosen:
        shutil.copy(DEMO / "stickers" / name, root / "stickers" / name)
    for lang in ("en", "zh"):
        with (DEMO / f"queries_{lang}.csv").open(encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["sticker_id"] in chosen]
        with (root / f"queries_{lang}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=["sticker_id", "labeled_queries"])
            writer.writeheader()
            writer.writerows(rows)
    return {n for n in chosen if demo_queries_withheld(n)}


def _demo_users() -> dict:
    users = {name: annotator_create(name) for name in ("annotator1", "annotator2", "annotator3")}
    users["admin"] = get_user_model().objects.create_superuser("admin", "a@example.com", "admin")
    return users


@pytest.fixture
def demo_root(settings, tmp_path) -> tuple[Path, set[str]]:
    settings.MEDIA_ROOT = tmp_path / "media"
    root = tmp_path / "demo"
    return root, _mini_demo(root)


def test_the_demo_withholds_queries_and_sets_up_a_playable_game(demo_root):
    # given the demo library imported and the demo users
    root, withheld = demo_root
    demo_library_import(root=root)
    users = _demo_users()
    # when the demo sets the game up
    line = demo_game_setup()
    # then the withheld stickers have no queries in either language, the others have both
    assert len(withheld) == 4
    for sticker in Sticker.objects.all():
        languages = set(sticker.queries.values_list("language", flat=True))
        assert languages == (set() if sticker.sticker_id in withheld else {"en", "zh"})
    assert "stickers without queries: 4 en, 4 zh" in line and f"/play/{DEMO_GAME}/" in line
    # and every demo user plays, two per language
    assert dict(Player.objects.values_list("user__username", "language")) == {
        "annotator1": "en", "annotator2": "en", "annotator3": "zh", "admin": "zh"}
    # and a round goes both ways: the first sticker offered is one that has no queries
    labeler, retriever = users["annotator1"], users["annotator2"]
    round_ = label_next(user=labeler, game_name=DEMO_GAME)
    assert round_.sticker.sticker_id in withheld
    label_submit(user=labeler, round_id=round_.pk, queries=["on my way"])
    held = retrieve_next(user=retriever, game_name=DEMO_GAME)
    assert held.pk == round_.pk
    retrieve_submit(user=retriever, round_id=held.pk, picks=[round_.sticker.sticker_id])
    assert list(Query.objects.filter(sticker=round_.sticker).values_list("text", "source")) == [
        ("on my way", "game")]


def test_a_rerun_keeps_the_game_its_settings_and_what_was_collected(demo_root):
    root, withheld = demo_root
    demo_library_import(root=root)
    _demo_users()
    demo_game_setup()
    Game.objects.filter(name=DEMO_GAME).update(candidate_count=4)
    Player.objects.filter(user__username="annotator3").update(language="en")
    target = Sticker.objects.get(sticker_id=sorted(withheld)[0])
    Query.objects.create(sticker=target, text="brb", normalized="brb", language="en",
                         source=Query.Source.GAME)
    # when the demo runs again (import and game step)
    again = demo_library_import(root=root)
    demo_game_setup()
    # then nothing withheld came back, the collected query stays, settings and choices are kept
    assert again.queries["en"].queries_created == 0
    assert list(target.queries.values_list("text", flat=True)) == ["brb"]
    assert Game.objects.get(name=DEMO_GAME).candidate_count == 4
    assert Player.objects.get(user__username="annotator3").language == "en"


def test_a_library_imported_before_withholding_gets_its_withheld_queries_removed(demo_root):
    # given a demo library whose every sticker got its CLDR queries (an older demo)
    root, withheld = demo_root
    demo_library_import(root=root)
    for lang in ("en", "zh"):
        queries_import(csv_path=root / f"queries_{lang}.csv", language=lang,
                       source=Query.Source.DEMO)
    assert Query.objects.filter(sticker__sticker_id__in=withheld).exists()
    # when the game is first set up
    line = demo_game_setup()
    # then the withheld stickers are left for the game to collect
    assert not Query.objects.filter(sticker__sticker_id__in=withheld).exists()
    assert "demo queries withheld" in line
    assert Query.objects.exclude(sticker__sticker_id__in=withheld).filter(language="zh").exists()
