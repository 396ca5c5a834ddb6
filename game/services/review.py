"""The admin's review of failed rounds (seed 002, 4.4): "most ill retrievals stem from a flood
of semantically similar stickers", so a failed round's queries are often good. Accept them
(optionally with a typo fixed) and they join the sticker's Q_i like a successful round's;
discard them and they never do.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import InputError
from game.models import Round, RoundQuery
from game.services.rounds import queries_checked


class Decision:
    ACCEPT = "accept"
    DISCARD = "discard"
    ALL = (ACCEPT, DISCARD)


def _apply_fixes(round_: Round, fixes: dict[int, str]) -> None:
    """Rewrites the round's queries by id: the corrected text, normalised as any query; an
    empty text drops that query; a fix that repeats another query of the round merges them."""
    queries = {q.pk: q for q in round_.queries.filter(role=RoundQuery.Role.LABEL)}
    unknown = [str(pk) for pk in fixes if pk not in queries]
    if unknown:
        raise InputError("fixes", f"not queries of round {round_.pk}: {', '.join(unknown)}")
    for pk, text in fixes.items():
        query = queries[pk]
        if not text.strip():
            query.delete()
            continue
        checked = queries_checked([text])
        if len(checked) != 1:
            raise InputError("fixes", f"query {pk}: one query per fix, no commas")
        query.text, query.normalized = checked[0]
        others = round_.queries.filter(role=RoundQuery.Role.LABEL,
                                       normalized=query.normalized).exclude(pk=pk)
        others.delete()
        query.save(update_fields=["text", "normalized"])


def round_review(*, reviewer: AbstractBaseUser, round_id: int, decision: str,
                 fixes: dict[int, str] | None = None) -> Round:
    """Accepts (with ``fixes``: round query id -> corrected text) or discards a failed round
    waiting for review. Accepted queries join the sticker's Q_i with source ``game``."""
    if decision not in Decision.ALL:
        raise InputError("decision", "accept or discard")
    with transaction.atomic():
        round_ = Round.objects.select_for_update().filter(pk=round_id).first()
        if round_ is None:
            raise Round.DoesNotExist(f"no round {round_id}")
        if round_.review != Round.Review.PENDING:
            raise InputError(f"round {round_id}", "not waiting for review "
                                                  f"({round_.get_review_display()})")
        now = timezone.now()
        if decision == Decision.ACCEPT:
            _apply_fixes(round_, fixes or {})
            with connection.cursor() as cur:
                cur.execute("SELECT game_round_accept_queries(%s, %s)", [round_.pk, now])
        round_.review = (Round.Review.ACCEPTED if decision == Decision.ACCEPT
                         else Round.Review.DISCARDED)
        round_.reviewed_by, round_.reviewed_at = reviewer, now
        round_.save(update_fields=["review", "reviewed_by", "reviewed_at"])
    return round_
