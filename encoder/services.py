"""Encoder writes: registering encoder versions, embedding stickers, building candidate sets.

Candidate sets (paper 001, 3.2): for each anchor and iteration, the ``campaign.candidate_count``
nearest stickers by cosine of their embeddings, excluding the anchor and exact duplicates, plus
one annotation Task per set. Iteration 2 must differ from iteration 1; how is the campaign's
``iteration2_source``:

- ``retrained``: image view under ``campaign.iteration2_encoder_version`` (a GSE trained on the
  iteration-1 pairs; embed with ``stickers_embed`` first).
- ``text_query``: the anchor's query texts through the CLIP text tower (mean of its queries'
  normalised text embeddings) against the candidates' *image* embeddings: the anchor as people
  describe it, not as it looks. An anchor without queries gets the ``next_page`` view instead,
  recorded on its candidate set.
- ``next_page``: image view, ranks 21-40 (``offset = candidate_count``).

Rebuild semantics: building an iteration again *replaces* its candidate sets and tasks while no
one has annotated or skipped any of them, and is refused (:class:`InputError`) once someone has,
so judgements are never silently orphaned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from annotation.errors import InputError
from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Query,
    Skip,
    Sticker,
    Task,
)
from encoder.models import EncoderVersion, StickerEmbedding
from encoder.openclip import (
    EncoderError,
    EncoderSpec,
    LoadedEncoder,
    embed_images,
    embed_texts,
    load_encoder,
)
from encoder.openclip import spec_version as openclip_spec_version
from encoder.retrieval import topk_cosine

logger = logging.getLogger(__name__)

# Candidate rows per INSERT: 5,000 rows of 4 columns stay well under PostgreSQL's
# parameter limit (65,535) and take ~1 MB of Python objects at a time.
INSERT_BATCH = 5000
# Embedding rows read per query when loading a matrix: 10,000 x 512 float32 = 20 MB a page.
LOAD_PAGE = 10000

ProgressFn = Callable[[int, int], None]  # (done, total)


def encoder_spec_from_settings(**overrides: str) -> EncoderSpec:
    """The spec named by GSE_MODEL / GSE_PRETRAINED / GSE_DEVICE, with non-empty overrides."""
    values = {
        "model": settings.GSE_MODEL,
        "pretrained": settings.GSE_PRETRAINED,
        "device": settings.GSE_DEVICE,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return EncoderSpec(**values)


def encoder_spec_for_version(
    encoder_version: EncoderVersion, device: str | None = None
) -> EncoderSpec:
    """How to load a registered version: its own checkpoint (a GSE) or its pretrained source,
    on ``device`` (default GSE_DEVICE)."""
    return EncoderSpec(
        model=encoder_version.model_name,
        pretrained=encoder_version.checkpoint or encoder_version.pretrained,
        device=settings.GSE_DEVICE if device is None else device,
        model_config=encoder_version.model_config or None,
    )


def encoder_version_get_or_create(
    *, spec: EncoderSpec, note: str = "", encoder: LoadedEncoder | None = None
) -> EncoderVersion:
    """Registers a base encoder under its deterministic version id.

    Without ``encoder`` no weights are loaded (the id comes from the config and the weights'
    identity), so a row may name weights that turn out not to load: callers that embed right
    away use :func:`stickers_embed_with_spec`, which loads first. With the loaded ``encoder``
    its id is reused (no second hash of a large checkpoint file).

    ``note`` (e.g. "fallback: random weights") is kept in ``train_config["note"]`` for the
    pages to show; a later call with a different note updates it.
    """
    if encoder is None:
        _, config, identity, version = openclip_spec_version(spec)
    else:
        config, identity, version = (encoder.model_config, encoder.pretrained_identity,
                                     encoder.version)
    train_config = {"pretrained_identity": identity, **({"note": note} if note else {})}
    row, created = EncoderVersion.objects.get_or_create(
        version=version,
        defaults={
            "kind": EncoderVersion.Kind.BASE,
            "model_name": spec.model,
            "model_config": config,
            "pretrained": spec.pretrained,
            "train_config": train_config,
        },
    )
    if not created and note and row.train_config.get("note") != note:
        row.train_config = {**row.train_config, "note": note}
        row.save(update_fields=["train_config"])
    return row


def stickers_embed_with_spec(
    *, spec: EncoderSpec, note: str = "", encoder: LoadedEncoder | None = None,
    batch_size: int | None = None, progress: ProgressFn | None = None,
) -> tuple[EncoderVersion, int]:
    """Loads the encoder, then registers its version and embeds what is missing.

    Loading comes first so that weights which do not load (a hub tag with no network, a
    checkpoint that does not fit the model) raise :class:`EncoderError` before any row is
    written: no EncoderVersion is ever left without the embeddings it promises. ``encoder``
    is the same spec already loaded by the caller (e.g. to check that it loads).
    """
    encoder = encoder or load_encoder(spec)
    version = encoder_version_get_or_create(spec=spec, note=note, encoder=encoder)
    count = stickers_embed(encoder_version=version, encoder=encoder, batch_size=batch_size,
                           progress=progress)
    return version, count


def _open_still(sticker: Sticker) -> Image.Image:
    with sticker.still.open("rb") as f:
        image = Image.open(f)
        image.load()
    return image


def stickers_embed(
    *, encoder_version: EncoderVersion, batch_size: int | None = None,
    progress: ProgressFn | None = None, encoder: LoadedEncoder | None = None,
    device: str | None = None,
) -> int:
    """Embeds every sticker that has no embedding under this version; returns how many.

    Stickers are read ``batch_size`` at a time by id (never all at once) and each batch is
    written as it is done, so an interrupted run resumes where it stopped. ``encoder`` is the
    version's model when the caller has it loaded already; otherwise it is loaded here (on
    ``device``, default GSE_DEVICE), and only if something is missing.
    """
    batch_size = batch_size or settings.GSE_EMBED_BATCH_SIZE
    done_ids = StickerEmbedding.objects.filter(encoder_version=encoder_version.version)
    missing = Sticker.objects.exclude(id__in=done_ids.values("sticker_id")).order_by("id")
    total = missing.count()
    if total == 0:
        return 0  # nothing to do: don't spend seconds loading the model
    encoder = encoder or load_encoder(encoder_spec_for_version(encoder_version, device=device))
    is_base = encoder_version.kind == EncoderVersion.Kind.BASE
    if is_base and encoder.version != encoder_version.version:
        raise EncoderError(
            f"encoder version {encoder_version.version}: its weights "
            f"({encoder_version.pretrained or 'random init'}) now hash to {encoder.version}; "
            "the checkpoint file changed, register it again"
        )
    done = 0
    last_id = 0
    while done < total:
        batch = list(missing.filter(id__gt=last_id).only("id", "still")[:batch_size])
        if not batch:
            break
        vectors = embed_images(encoder, (_open_still(s) for s in batch), batch_size)  # (B, D)
        StickerEmbedding.objects.bulk_create(
            [
                StickerEmbedding(
                    sticker_id=s.id, encoder_version=encoder_version.version,
                    dim=vectors.shape[1], vector=vectors[i].astype("<f4").tobytes(),
                )
                for i, s in enumerate(batch)
            ],
            ignore_conflicts=True,  # another worker embedding the same sticker: keep one
        )
        done += len(batch)
        last_id = batch[-1].id
        if progress:
            progress(done, total)
    return done


@dataclass
class EmbeddingMatrix:
    """All stickers' embeddings under one version, row i belonging to ``sticker_ids[i]``."""

    sticker_ids: np.ndarray  # (N,) int64 Sticker primary keys, ascending
    vectors: np.ndarray  # (N, D) float32, L2-normalised

    def duplicate_groups(self) -> np.ndarray:
        """(N,) group ids: byte-identical embeddings (the same still) share a group.

        Exact content duplicates are already one Sticker (content_hash is unique); two stickers
        whose stills are the same image (a gif and its png export) embed identically.
        """
        row_bytes = np.dtype((np.void, self.vectors.shape[1] * 4))
        rows = np.ascontiguousarray(self.vectors).view(row_bytes)  # (N, 1) one blob a row
        _, groups = np.unique(rows.ravel(), return_inverse=True)
        return groups.astype(np.int64)


def embeddings_load(*, encoder_version: str) -> EmbeddingMatrix:
    """Loads the embedding matrix of one version, a page of rows at a time."""
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    qs = StickerEmbedding.objects.filter(encoder_version=encoder_version).order_by("sticker_id")
    last = 0
    while True:
        page = list(qs.filter(sticker_id__gt=last).values_list("sticker_id", "vector")[:LOAD_PAGE])
        if not page:
            break
        ids.extend(sid for sid, _ in page)
        vectors.extend(np.frombuffer(bytes(v), dtype="<f4") for _, v in page)
        last = page[-1][0]
    if not ids:
        raise InputError(
            f"encoder version {encoder_version}",
            "has no sticker embeddings: run manage.py embed_stickers for it first",
        )
    return EmbeddingMatrix(np.asarray(ids, np.int64), np.stack(vectors).astype(np.float32))


def _query_text_vectors(
    encoder_version: EncoderVersion, sticker_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(A, D) mean query-text embedding per anchor and an (A,) bool mask of who has queries."""
    wanted = set(sticker_ids.tolist())
    texts_by_sticker: dict[int, list[str]] = {}
    # Streamed rather than filtered by an IN list, which a million ids would not fit into.
    rows = Query.objects.order_by("sticker_id", "id").values_list("sticker_id", "text")
    for sid, text in rows.iterator(chunk_size=LOAD_PAGE):
        if sid in wanted:
            texts_by_sticker.setdefault(sid, []).append(text)
    encoder = load_encoder(encoder_spec_for_version(encoder_version))
    flat = [t for sid in sticker_ids.tolist() for t in texts_by_sticker.get(sid, [])]
    text_vecs = embed_texts(encoder, flat)  # (T, D)
    dim = text_vecs.shape[1] if len(flat) else int(encoder.model_config["embed_dim"])
    out = np.zeros((len(sticker_ids), dim), np.float32)
    has = np.zeros(len(sticker_ids), bool)
    pos = 0
    for i, sid in enumerate(sticker_ids.tolist()):
        n = len(texts_by_sticker.get(sid, []))
        if n:
            mean = text_vecs[pos:pos + n].mean(axis=0)  # (D,)
            out[i] = mean / max(np.linalg.norm(mean), 1e-12)
            has[i] = True
        pos += n
    return out, has


def _version_row(version: str, what: str) -> EncoderVersion:
    row = EncoderVersion.objects.filter(version=version).first()
    if row is None:
        raise InputError(what, f"encoder version {version!r} is not registered")
    return row


@dataclass
class _Retrieved:
    """One view's results: anchors are rows of the matrix."""

    anchor_rows: np.ndarray  # (A,)
    indices: np.ndarray  # (A, k) rows of the matrix, -1 padded
    scores: np.ndarray  # (A, k)
    view: str


def _retrieve(campaign: Campaign, iteration: int) -> tuple[EmbeddingMatrix, list[_Retrieved], str]:
    """Runs the retrieval view(s) of one iteration; returns the matrix, results, version."""
    k = campaign.candidate_count
    view = CandidateSet.RetrievalView
    if iteration == 1 or campaign.iteration2_source in ("", Campaign.Iteration2Source.NEXT_PAGE,
                                                        Campaign.Iteration2Source.TEXT_QUERY):
        version = campaign.encoder_version
        if not version:
            raise InputError(f"campaign {campaign.name}", "has no encoder_version")
    else:
        version = campaign.iteration2_encoder_version
        if not version:
            raise InputError(
                f"campaign {campaign.name}",
                "iteration2_source is 'retrained' but iteration2_encoder_version is empty",
            )
    matrix = embeddings_load(encoder_version=version)
    groups = matrix.duplicate_groups()
    rows = np.arange(len(matrix.sticker_ids))
    source = campaign.iteration2_source
    if iteration == 1 or source == Campaign.Iteration2Source.RETRAINED:
        idx, sc = topk_cosine(matrix.vectors, k, duplicate_group=groups)
        return matrix, [_Retrieved(rows, idx, sc, view.IMAGE)], version
    if source == Campaign.Iteration2Source.TEXT_QUERY:
        row = _version_row(version, campaign.name)
        text_vecs, has = _query_text_vectors(row, matrix.sticker_ids)
        out = []
        if has.any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[has],
                                  anchor_vectors=text_vecs[has], duplicate_group=groups)
            out.append(_Retrieved(rows[has], idx, sc, view.TEXT_QUERY))
        if (~has).any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[~has], duplicate_group=groups,
                                  offset=k)
            out.append(_Retrieved(rows[~has], idx, sc, view.NEXT_PAGE))
        return matrix, out, version
    # next_page (also the default when the campaign names no source)
    idx, sc = topk_cosine(matrix.vectors, k, duplicate_group=groups, offset=k)
    return matrix, [_Retrieved(rows, idx, sc, view.NEXT_PAGE)], version


def _clear_iteration(campaign: Campaign, iteration: int) -> None:
    """Deletes an iteration's candidate sets and tasks, unless any has been judged."""
    judged = (
        Annotation.objects.filter(task__campaign=campaign, task__iteration=iteration).exists()
        or Skip.objects.filter(task__campaign=campaign, task__iteration=iteration).exists()
    )
    if judged:
        raise InputError(
            f"campaign {campaign.name} iteration {iteration}",
            "already has annotations or skips: its candidate sets are kept, not rebuilt",
        )
    CandidateSet.objects.filter(campaign=campaign, iteration=iteration).delete()


def candidate_sets_build(*, campaign: Campaign, iteration: int) -> int:
    """Builds (or replaces) one iteration's candidate sets and tasks; returns how many sets."""
    if iteration not in (1, 2):
        raise InputError("iteration", f"must be 1 or 2, not {iteration}")
    matrix, results, version = _retrieve(campaign, iteration)
    with transaction.atomic():
        _clear_iteration(campaign, iteration)
        built = 0
        for result in results:
            built += _store(campaign, iteration, version, matrix, result)
    logger.info("campaign %s iteration %s: %s candidate sets", campaign.name, iteration, built)
    return built


def _store(campaign: Campaign, iteration: int, version: str, matrix: EmbeddingMatrix,
           result: _Retrieved) -> int:
    """Writes candidate sets, their candidates and one task each, a slice of anchors at a time."""
    ids = matrix.sticker_ids
    # An anchor left with no candidate at all (a library smaller than the page asked for, e.g.
    # ranks 21-40 of 15 stickers) gets no set and no task: there would be nothing to judge.
    keep = (result.indices >= 0).any(axis=1)  # (A,)
    anchor_rows, indices = result.anchor_rows[keep], result.indices[keep]  # (A', ), (A', k)
    scores = result.scores[keep]  # (A', k)
    per_slice = max(1, INSERT_BATCH // max(campaign.candidate_count, 1))
    for start in range(0, len(anchor_rows), per_slice):
        rows = anchor_rows[start:start + per_slice]
        sets = CandidateSet.objects.bulk_create(
            [
                CandidateSet(campaign=campaign, anchor_id=int(ids[r]), iteration=iteration,
                             encoder_version=version, retrieval_view=result.view)
                for r in rows
            ]
        )
        if any(s.pk is None for s in sets):  # a backend that returns no ids: read them back
            by_anchor = dict(
                CandidateSet.objects.filter(campaign=campaign, iteration=iteration,
                                            anchor_id__in=[int(ids[r]) for r in rows])
                .values_list("anchor_id", "id")
            )
            for s in sets:
                s.pk = s.id = by_anchor[s.anchor_id]
        candidates = [
            Candidate(candidate_set=s, sticker_id=int(ids[j]), rank=rank, score=float(score))
            for s, i in zip(sets, range(start, start + len(rows)), strict=True)
            for rank, (j, score) in enumerate(
                zip(indices[i], scores[i], strict=True), start=1
            )
            if j >= 0
        ]
        Candidate.objects.bulk_create(candidates, batch_size=INSERT_BATCH)
        Task.objects.bulk_create(
            [Task(candidate_set=s, campaign=campaign, anchor_id=s.anchor_id, iteration=iteration)
             for s in sets],
            batch_size=INSERT_BATCH,
        )
    return len(anchor_rows)

