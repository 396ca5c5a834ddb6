"""The demo's Sticktionary: a game over the demo library, with stickers left to collect.

``annotation.services.demo.demo_library_import`` keeps the CLDR queries of about one sticker in
six back (``demo_queries_withheld``); those stickers have no queries, so the game offers them
first (fewest queries first) and a demo player collects real ones at once.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from annotation.models import Query, Sticker
from annotation.services.demo import demo_queries_withheld
from game.models import Game, Player
from game.services.games import game_create

DEMO_GAME = "sticktionary"
# The demo users' languages: two players per language, so a round can be labelled by one and
# retrieved by another in each (admin also reviews the failed rounds).
DEMO_PLAYERS = {"annotator1": "en", "annotator2": "en", "annotator3": "zh", "admin": "zh"}


def demo_queries_withhold() -> int:
    """Deletes the demo-source queries of the withheld stickers (a library imported before the
    demo withheld any); returns how many. Game queries collected since are kept."""
    withheld = [pk for pk, sticker_id in Sticker.objects.values_list("pk", "sticker_id")
                if demo_queries_withheld(sticker_id)]
    deleted, _ = Query.objects.filter(sticker_id__in=withheld,
                                      source=Query.Source.DEMO).delete()
    return deleted


def demo_game_setup() -> str:
    """Creates the demo game once (its settings are kept on a rerun: an admin may have changed
    them) and the demo users' player profiles; returns the line that says how to play."""
    game = Game.objects.filter(name=DEMO_GAME).first()
    removed = 0
    if game is None:
        removed = demo_queries_withhold()  # only on the first setup: never after play began
        game = game_create(name=DEMO_GAME)
    users = get_user_model().objects.filter(username__in=DEMO_PLAYERS)
    for user in users:
        Player.objects.get_or_create(user=user,
                                     defaults={"language": DEMO_PLAYERS[user.username]})
    empty = {lang: Sticker.objects.exclude(queries__language=lang).count()
             for lang in ("en", "zh")}
    players = ", ".join(f"{p.user.username} ({p.language})" for p in
                        Player.objects.filter(user__in=users).select_related("user")
                        .order_by("user__username"))
    return (f"game {game.name!r}: play at /play/{game.name}/ as {players}; stickers without "
            f"queries: {empty['en']} en, {empty['zh']} zh"
            + (f" ({removed} demo queries withheld)" if removed else ""))
