"""Sticktionary (seed 002, section 4): players, games, rounds and what was typed and picked.

A round is one sticker shown to one labeler, who types queries; later a retriever (another
player of the same language) picks and ranks up to three of the round's candidates. Outcome
and points are read from the stored picks (``game.selectors``), never kept as counters. The
rules of who gets which round live in ``game/sql/`` (PL/pgSQL), as the annotation rules do.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from annotation.models import Query, Sticker


class Language(models.TextChoices):
    """The languages the game is played in; a player plays in one, the game never mixes them."""

    EN = "en", "English"
    ZH = "zh", "中文"


class Player(models.Model):
    """A user's game profile: the language they type and read queries in."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="game_player")
    language = models.CharField(max_length=8, choices=Language.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.language})"


class Game(models.Model):
    """A game over the whole library, with its settings (the campaign of Sticktionary)."""

    name = models.CharField(max_length=200, unique=True)
    # Labelers per sticker and language: several people's phrasings (seed 002, 4.3 diversity).
    labelers_per_sticker = models.PositiveIntegerField(default=3)
    # Stickers on the retriever's grid: the target plus candidate_count - 1 distractors.
    candidate_count = models.PositiveIntegerField(default=9)
    # Encoder version whose stored embeddings pick the look-alike distractors; blank: the
    # newest version that embedded the target (random distractors when none did).
    encoder_version = models.CharField(max_length=128, blank=True)
    # How long a labeler's sticker or a retriever's round stays theirs without an answer.
    lease_seconds = models.PositiveIntegerField(default=600)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    """One sticker, one labeler's queries, and at most one retriever's ranked picks."""

    class Status(models.TextChoices):
        LABELING = "labeling"  # held by its labeler until labeler_expires_at
        WAITING = "waiting"  # queries stored, waiting for a retriever
        RETRIEVING = "retrieving"  # held by a retriever until retriever_expires_at
        DONE = "done"  # picks stored: the outcome is known
        SKIPPED = "skipped"  # the labeler skipped: no queries, no slot

    class Review(models.TextChoices):
        NONE = "", "not reviewed"  # successful rounds (and open ones) need no review
        PENDING = "pending"  # failed: waits for an admin
        ACCEPTED = "accepted"  # the admin kept its queries (maybe corrected)
        DISCARDED = "discarded"

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="rounds")
    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=8, choices=Language.choices)
    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="rounds_labeled")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.LABELING)
    labeler_expires_at = models.DateTimeField()
    labeled_at = models.DateTimeField(null=True, blank=True)
    labeler_submission_id = models.CharField(max_length=64, blank=True)
    # The retriever's grid in display order (Sticker primary keys, the target among them),
    # chosen when the labeler submits.
    candidates = ArrayField(models.BigIntegerField(), default=list, blank=True)
    retriever = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="rounds_retrieved")
    retriever_expires_at = models.DateTimeField(null=True, blank=True)
    retrieved_at = models.DateTimeField(null=True, blank=True)
    retriever_submission_id = models.CharField(max_length=64, blank=True)
    review = models.CharField(max_length=12, choices=Review.choices, default=Review.NONE,
                              blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A player never labels one sticker twice (seed 002, 4.3: diversity).
            models.UniqueConstraint(fields=["game", "sticker", "labeler"],
                                    name="game_round_one_per_labeler_sticker"),
        ]
        indexes = [
            # The retriever's pick: a game's waiting rounds of one language, oldest first.
            models.Index(fields=["game", "language", "status", "labeled_at", "id"],
                         name="game_round_pick_idx"),
            models.Index(fields=["game", "sticker", "language"], name="game_round_sticker_idx"),
            models.Index(fields=["review", "retrieved_at"], name="game_round_review_idx"),
        ]

    def __str__(self) -> str:
        return f"round {self.pk}: {self.sticker_id} by {self.labeler_id}"


class RoundQuery(models.Model):
    """A query typed in a round: the labeler's (role ``label``) or a retriever's suggestion
    after the reveal (role ``suggestion``). ``query`` is the sticker's Q_i row it became, once
    the round succeeded or a reviewer accepted it: who wrote it and in which round live here."""

    class Role(models.TextChoices):
        LABEL = "label"
        SUGGESTION = "suggestion"

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="queries")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.LABEL)
    position = models.PositiveSmallIntegerField()  # order as typed, from 1
    text = models.CharField(max_length=Query._meta.get_field("text").max_length)
    normalized = models.CharField(max_length=Query._meta.get_field("normalized").max_length)
    query = models.ForeignKey(Query, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="game_origins")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["round", "role", "position"]
        constraints = [
            models.UniqueConstraint(fields=["round", "role", "author", "normalized"],
                                    name="game_roundquery_unique"),
        ]

    def __str__(self) -> str:
        return self.text


class RoundPick(models.Model):
    """One of the retriever's up to three picks, rank 1 first."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="picks")
    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["round", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["round", "rank"], name="game_pick_rank_unique"),
            models.UniqueConstraint(fields=["round", "sticker"], name="game_pick_sticker_unique"),
        ]


class RoundSkip(models.Model):
    """A retriever's "too hard": the round goes back to the others and never to them again."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="skips")
    player = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "player"], name="game_skip_once"),
        ]


class QueryChange(models.Model):
    """One statement's changes to ``annotation.Query`` in one language, written by a trigger
    (``game/sql/query_counts.sql``): the search index's freshness signature is the sum of
    ``changes`` and the largest id, which grow with every committed change and are cheap to
    read. Compacted to one row per language now and then (``game.services.search``)."""

    language = models.CharField(max_length=16)  # "*": every language (a TRUNCATE)
    changes = models.BigIntegerField()  # rows inserted, updated or deleted


class StickerQueryCount(models.Model):
    """How many queries a sticker has in one language, kept in step with ``annotation.Query``
    by triggers (``game/sql/query_counts.sql``; every new sticker starts at 0 in the game's
    languages). The labeler's pick walks its index, fewest queries first, instead of counting
    every sticker's queries."""

    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=16)
    queries = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sticker", "language"],
                                    name="game_stickerquerycount_unique"),
        ]
        indexes = [
            # The labeler's pick: one language, fewest queries first, oldest sticker first.
            models.Index(fields=["language", "queries", "sticker"],
                         name="game_sqc_pick_idx"),
        ]


class TermVector(models.Model):
    """The encoder's CLIP text-tower vector of one search term (a BM25 token) of one language,
    computed where torch is allowed (``manage.py embed_search_terms``) so the web search can
    score stickers without queries from stored vectors only (``game.tower``)."""

    encoder_version = models.ForeignKey("encoder.EncoderVersion", on_delete=models.CASCADE,
                                        related_name="+")
    language = models.CharField(max_length=16)
    term = models.CharField(max_length=200)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()  # little-endian float32 x dim, unit length
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["encoder_version", "language", "term"],
                                    name="game_termvector_unique"),
        ]
