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
from annotation.models import Sticker
from audit.models import AuditEvent
from audit.services import audit_record
from game.models import Game, Round, RoundQuery
from game.services.rounds import queries_checked


class Decision:
    ACCEPT = "accept"
    DISCARD = "discard"
    ALL = (ACCEPT, DISCARD)


def _apply_fixes(round_: Round, fixes: dict[int, str]) -> dict[str, dict[str, str]]:
    """Rewrites the round's queries by id: the corrected text, normalised as any query; an
    empty text drops that query; a fix that repeats another query of the round merges them.
    Returns what changed (round query id -> before and after text; after '' when dropped)."""
    queries = {q.pk: q for q in round_.queries.filter(role=RoundQuery.Role.LABEL)}
    unknown = [str(pk) for pk in fixes if pk not in queries]
    if unknown:
        raise InputError("fixes", f"not queries of round {round_.pk}: {', '.join(unknown)}")
    changed = {str(pk): {"before": queries[pk].text, "after": text.strip()}
               for pk, text in fixes.items() if text.strip() != queries[pk].text}
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
    return changed


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
        fixed: dict[str, dict[str, str]] = {}
        if decision == Decision.ACCEPT:
            fixed = _apply_fixes(round_, fixes or {})
            with connection.cursor() as cur:
                cur.execute("SELECT game_round_accept_queries(%s, %s)", [round_.pk, now])
        round_.review = (Round.Review.ACCEPTED if decision == Decision.ACCEPT
                         else Round.Review.DISCARDED)
        round_.reviewed_by, round_.reviewed_at = reviewer, now
        round_.save(update_fields=["review", "reviewed_by", "reviewed_at"])
        _review_record(round_, decision=decision, fixed=fixed, reviewer=reviewer)
    return round_


def _review_record(round_: Round, *, decision: str, fixed: dict[str, dict[str, str]],
                   reviewer: AbstractBaseUser) -> None:
    """The decision in the audit trail: which round, accepted or discarded, the typo fixes,
    and the queries as they were kept (what joined Q_i) or thrown away."""
    sticker_id = Sticker.objects.filter(pk=round_.sticker_id).values_list(
        "sticker_id", flat=True).first()
    queries = list(round_.queries.filter(role=RoundQuery.Role.LABEL).order_by("position")
                   .values_list("text", flat=True))
    audit_record(action=AuditEvent.Action.ROUND_REVIEW, actor=reviewer,
                 target=f"round {round_.pk} ({sticker_id}, {round_.language})",
                 details={"game": Game.objects.get(pk=round_.game_id).name,
                          "decision": decision, "fixes": fixed, "queries": queries,
                          "labeler_id": round_.labeler_id, "retriever_id": round_.retriever_id})
