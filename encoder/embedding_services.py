"""Encoder versions and embeddings: registering a version, embedding stickers (and uploaded
files, for the similarity jobs), loading a version's stored embeddings, and the query-text
vectors of the text tower.

torch and OpenCLIP are imported inside the functions that run a model (in a worker or a
command), never at import: the web processes import this module only to read stored
embeddings and to build specs from the settings.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from PIL import Image

from annotation.errors import InputError
from annotation.models import Query, Sticker
from encoder.models import EncoderVersion, SimilarityJob, StickerEmbedding
from encoder.spec import EncoderError, EncoderSpec

if TYPE_CHECKING:
    from encoder.openclip import LoadedEncoder

logger = logging.getLogger(__name__)

# Embedding rows read per query when loading a matrix: 10,000 x 512 float32 = 20 MB a page.
LOAD_PAGE = 10000

ProgressFn = Callable[[int, int], None]  # (done, total)


def encoder_spec_from_settings(**overrides: str | None) -> EncoderSpec:
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
        from encoder.openclip import spec_version

        _, config, identity, version = spec_version(spec)
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


def encoder_version_load(
    encoder_version: EncoderVersion, device: str | None = None
) -> LoadedEncoder:
    """Loads a registered version's model; a base version whose weights now hash to another id
    (its checkpoint file changed) is refused rather than embedding under the wrong name."""
    from encoder.openclip import load_encoder

    encoder = load_encoder(encoder_spec_for_version(encoder_version, device=device))
    is_base = encoder_version.kind == EncoderVersion.Kind.BASE
    if is_base and encoder.version != encoder_version.version:
        raise EncoderError(
            f"encoder version {encoder_version.version}: its weights "
            f"({encoder_version.pretrained or 'random init'}) now hash to {encoder.version}; "
            "the checkpoint file changed, register it again"
        )
    return encoder


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
    from encoder.openclip import load_encoder

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
    device: str | None = None, id_range: tuple[int, int] | None = None,
) -> int:
    """Embeds every sticker that has no embedding under this version; returns how many.

    Stickers are read ``batch_size`` at a time by id (never all at once) and each batch is
    written as it is done, so an interrupted run resumes where it stopped. ``encoder`` is the
    version's model when the caller has it loaded already; otherwise it is loaded here (on
    ``device``, default GSE_DEVICE), and only if something is missing. ``id_range``
    ``(first, last)`` limits the work to stickers with ``first <= id <= last`` (one chunk of a
    job split over workers).
    """
    from encoder.openclip import embed_images

    batch_size = batch_size or settings.GSE_EMBED_BATCH_SIZE
    # NOT EXISTS, an index probe a sticker: NOT IN over a million embedded ids is a subplan
    # PostgreSQL scans once a sticker (minutes a chunk at 1,000,000 stickers).
    embedded = StickerEmbedding.objects.filter(encoder_version=encoder_version,
                                               sticker_id=OuterRef("id"))
    missing = Sticker.objects.filter(~Exists(embedded)).order_by("id")
    if id_range is not None:
        missing = missing.filter(id__gte=id_range[0], id__lte=id_range[1])
    total = missing.count()
    if total == 0:
        return 0  # nothing to do: don't spend seconds loading the model
    encoder = encoder or encoder_version_load(encoder_version, device=device)
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
                    sticker_id=s.id, encoder_version=encoder_version,
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
    """Loads the embedding matrix of one version (by its version string), a page of rows at a
    time."""
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    qs = (StickerEmbedding.objects.filter(encoder_version__version=encoder_version)
          .order_by("sticker_id"))
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


def query_text_vectors(
    encoder_version: EncoderVersion, sticker_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(A, D) mean query-text embedding per anchor (the version's CLIP text tower over the
    anchor's queries, each normalised, then the mean normalised) and an (A,) bool mask of
    who has queries."""
    from encoder.openclip import embed_texts, load_encoder

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


# ---------------------------------------------------------------- similarity jobs (uploads)

_LOADED: dict[str, LoadedEncoder] = {}  # version -> loaded model; a worker keeps 2 at most
LOADED_MAX = 2  # a ViT-B-32 is ~600 MB in fp32: two stay resident per worker process


def loaded_encoder(encoder_version: EncoderVersion) -> LoadedEncoder:
    """The version's model, loaded once per worker process (the last ``LOADED_MAX`` kept)."""
    hit = _LOADED.get(encoder_version.version)
    if hit is None:
        if len(_LOADED) >= LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        hit = _LOADED[encoder_version.version] = encoder_version_load(encoder_version)
    return hit


def _upload_still(data: bytes, name: str) -> Image.Image:
    """The still of an uploaded file (any supported format), probed as an import would."""
    from annotation.media import media_probe
    from annotation.services.stickers import media_limits

    probed = media_probe(data, name=name or "upload", limits=media_limits())
    return Image.open(io.BytesIO(probed.still_png))


def _side_vector(job: SimilarityJob, side: str, encoder_version: EncoderVersion) -> np.ndarray:
    """(D,) the embedding of one side: a sticker's stored one (embedded now if missing), or
    the uploaded file's."""
    from encoder.openclip import embed_images

    sticker = getattr(job, f"sticker_{side}")
    if sticker is not None:
        row = StickerEmbedding.objects.filter(sticker=sticker,
                                              encoder_version=encoder_version).first()
        if row is not None:
            return np.frombuffer(bytes(row.vector), "<f4").astype(np.float32)
        image = _open_still(sticker)
    else:
        image = _upload_still(bytes(getattr(job, f"file_{side}")), getattr(job, f"name_{side}"))
    return embed_images(loaded_encoder(encoder_version), [image])[0]


def similarity_job_run(*, job: SimilarityJob) -> SimilarityJob:
    """Scores a pending similarity job on this (worker) process: embeds its uploaded side(s),
    writes the cosine, drops the uploaded bytes. A file that cannot be read fails the job with
    the message the API answers; the job is never left pending by an error."""
    if job.status != SimilarityJob.Status.PENDING:
        return job  # a redelivered message (acks_late): already answered
    version = job.encoder_version
    try:
        a, b = (_side_vector(job, side, version) for side in ("a", "b"))
        job.cosine, job.status = float(np.dot(a, b)), SimilarityJob.Status.DONE
    except (InputError, EncoderError) as e:
        job.status, job.error = SimilarityJob.Status.FAILED, str(e)[:2000]
    job.file_a = job.file_b = None
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "cosine", "error", "file_a", "file_b", "finished_at"])
    return job

