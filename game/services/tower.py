"""The encoder's text tower in the library search and in the query-retrieval evaluation.

Where torch runs: ``term_vectors_compute`` and ``query_retrieval_evaluate_encoder`` load a
model (commands and workers only; torch and OpenCLIP are imported inside them). The web search
reads what the first one stored (``tower_state``: NumPy over stored vectors, no model), see
``game.tower`` for why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import transaction

from annotation.errors import InputError
from annotation.models import Sticker
from encoder.models import EncoderVersion, StickerEmbedding
from game.bm25 import RECALL_KS, QueryIndex, split_queries, tokenize
from game.models import StickerQueryCount, TermVector
from game.tower import TermVectors, text_to_image_recall, tower_rank, unit_rows

# Term vectors written per INSERT: 2,000 x 512 float32 = 4 MB.
TERM_BATCH = 2_000
MEAN_RECALL_KS = (1, 5, 10)


def encoder_version_active() -> EncoderVersion | None:
    """The active encoder: the newest trained GSE that is done, else the newest done version
    (the base encoder the library was embedded with)."""
    done = EncoderVersion.objects.filter(status=EncoderVersion.Status.DONE).order_by(
        "-created_at", "-id")
    return done.filter(kind=EncoderVersion.Kind.GSE).first() or done.first()


def encoder_version_named(version: str | None) -> EncoderVersion:
    """The version of that name, or the active one; a clear error when there is none."""
    row = (EncoderVersion.objects.filter(version=version).first() if version
           else encoder_version_active())
    if row is None:
        raise InputError("encoder_version", f"no encoder version {version!r}" if version else
                         "no encoder version is done yet: embed the library first")
    return row


def term_vectors_compute(*, encoder_version: EncoderVersion, language: str,
                         batch_size: int = 256) -> int:
    """Embeds every term of the language's search vocabulary with the version's text tower and
    stores the vectors (replacing that version's earlier ones); returns how many. Loads the
    model: a command or a worker, never a web request."""
    from encoder.embedding_services import encoder_version_load
    from encoder.openclip import embed_texts
    from game.services.search import query_index_build

    index = query_index_build(language)  # fresh: every term there is now
    terms = sorted(index.retriever.vocab_dict) if index.retriever is not None else []
    terms = [t for t in terms if t and len(t) <= TermVector._meta.get_field("term").max_length]
    vectors = (embed_texts(encoder_version_load(encoder_version), terms, batch_size=batch_size)
               if terms else np.zeros((0, 0), np.float32))  # (V, D)
    vectors = unit_rows(vectors) if len(terms) else vectors
    with transaction.atomic():
        TermVector.objects.filter(encoder_version=encoder_version, language=language).delete()
        for start in range(0, len(terms), TERM_BATCH):
            TermVector.objects.bulk_create(
                TermVector(encoder_version=encoder_version, language=language, term=term,
                           dim=vectors.shape[1], vector=vectors[i].astype("<f4").tobytes())
                for i, term in enumerate(terms[start:start + TERM_BATCH], start=start))
    return len(terms)


@dataclass(frozen=True)
class TowerState:
    """What a search needs to score stickers without queries: the term vectors and the unit
    image embeddings of those stickers, under one encoder version."""

    version: str
    terms: TermVectors
    keys: list[int]  # Sticker primary keys, rows of ``images``
    images: np.ndarray  # (M, D) float32, unit rows

    def rank(self, text: str, language: str, index: QueryIndex, k: int
             ) -> list[tuple[int, float]]:
        query = self.terms.query_vector(tokenize(text, language), index.idf)
        return tower_rank(query, self.keys, self.images, k) if query is not None else []


def tower_state(*, language: str) -> TowerState | None:
    """The newest version's term vectors for the language and the stored embeddings, under that
    version, of the stickers with no query in it; None when either is missing."""
    newest = (TermVector.objects.filter(language=language).order_by("-id")
              .values_list("encoder_version_id", flat=True).first())
    if newest is None:
        return None
    rows = list(TermVector.objects.filter(encoder_version_id=newest, language=language)
                .values_list("term", "dim", "vector"))
    matrix = np.frombuffer(b"".join(bytes(v) for _, _, v in rows), "<f4").reshape(
        len(rows), rows[0][1])  # (V, D)
    empty = StickerQueryCount.objects.filter(language=language, queries=0).values("sticker_id")
    embedded = list(StickerEmbedding.objects.filter(
        encoder_version_id=newest, sticker_id__in=empty, dim=rows[0][1])
        .order_by("sticker_id").values_list("sticker_id", "vector"))
    if not embedded:
        return None
    images = np.frombuffer(b"".join(bytes(v) for _, v in embedded), "<f4").reshape(
        len(embedded), rows[0][1])  # (M, D)
    version = EncoderVersion.objects.get(pk=newest).version
    return TowerState(version=version,
                      terms=TermVectors(row={t: i for i, (t, _, _) in enumerate(rows)},
                                        matrix=matrix),
                      keys=[pk for pk, _ in embedded], images=unit_rows(images))


@dataclass(frozen=True)
class EncoderRecallReport:
    """Text-to-sticker Recall@K of one encoder's text tower (seed 003, StickerCLIP)."""

    language: str
    encoder_version: str
    stickers: int  # stickers retrieved among (those with queries and an embedding)
    queries: int
    recall: dict[int, float]

    @property
    def mean_recall(self) -> float:
        """Mean of R@1, R@5 and R@10: the "mean recall" of CLIP-style text-to-image
        benchmarks (StickerCLIP's, Chinese-CLIP's)."""
        return sum(self.recall[k] for k in MEAN_RECALL_KS) / len(MEAN_RECALL_KS)

    def lines(self) -> list[str]:
        figures = "  ".join(f"R@{k}={v:.3f}" for k, v in self.recall.items())
        return [f"{self.language}: text-to-sticker with encoder {self.encoder_version}: "
                f"{self.queries} queries over {self.stickers} stickers: {figures}  "
                f"mean recall (R@1,5,10)={self.mean_recall:.3f}"]


def query_retrieval_evaluate_encoder(*, language: str, docs: dict[str, list[str]],
                                     held_out_csv_docs: dict[str, list[str]] | None = None,
                                     encoder_version: str | None = None, seed: int = 0,
                                     ) -> EncoderRecallReport:
    """Text-to-sticker Recall@K of the encoder's text tower against the stored image
    embeddings of the stickers in ``docs`` (sticker id -> queries): the same held-out queries as
    the BM25 evaluation (``held_out_csv_docs``, else the seeded half of each sticker's own), so
    the two reports compare. Loads the model: a command, never a web request."""
    from encoder.embedding_services import encoder_version_load
    from encoder.openclip import embed_texts

    row = encoder_version_named(encoder_version)
    held = ([(k, t) for k, texts in held_out_csv_docs.items() for t in texts]
            if held_out_csv_docs is not None else split_queries(docs, seed=seed)[1])
    pks = dict(Sticker.objects.filter(sticker_id__in=list(docs)).values_list("sticker_id", "pk"))
    embedded = dict(StickerEmbedding.objects.filter(encoder_version=row, sticker_id__in=list(
        pks.values())).values_list("sticker_id", "vector"))
    if not embedded:
        raise InputError("encoder_version", f"{row.version} has no embeddings of these "
                                            "stickers: run manage.py embed_stickers for it")
    keys = sorted(embedded)
    position = {pk: i for i, pk in enumerate(keys)}
    images = np.stack([np.frombuffer(bytes(embedded[pk]), "<f4") for pk in keys])  # (N, D)
    held = [(pks[k], t) for k, t in held if pks.get(k) in position]
    texts = (embed_texts(encoder_version_load(row), [t for _, t in held]) if held
             else np.zeros((0, images.shape[1]), np.float32))  # (Q, D)
    targets = np.asarray([position[pk] for pk, _ in held], np.int64)
    return EncoderRecallReport(language=language, encoder_version=row.version,
                               stickers=len(keys), queries=len(held),
                               recall=text_to_image_recall(texts, images, targets, RECALL_KS))
