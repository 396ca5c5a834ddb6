"""Evaluating an encoder on Triple-S pairs: threshold on validation, metrics on test.

Also sticker-to-sticker retrieval over the test stickers, grouped by shared positives
(connected components) or by a label column when one is given (e.g. the demo's concepts).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.data import ImageResolver, PairRow, StickerPixels, pair_sticker_ids, resolve_images
from encoder.gse.metrics import (
    best_f1_threshold,
    binary_metrics,
    cosine_scores,
    positive_groups,
    retrieval_recall,
)
from encoder.gse.model import GseModel
from encoder.gse.scorable import require_scorable

# Stills embedded per forward pass at evaluation: 64 x 3 x 224 x 224 fp32 = 38 MB of pixels.
EVAL_BATCH = 64


@torch.no_grad()
def embed_stickers(
    model: GseModel, pixels: StickerPixels, sticker_ids: Sequence[str], batch_size: int = EVAL_BATCH
) -> np.ndarray:
    """(N, D) float32 unit image embeddings in ``sticker_ids`` order (fp16 autocast on CUDA)."""
    model.eval()
    device = model.device
    out = []
    for start in range(0, len(sticker_ids), batch_size):
        batch = pixels.batch(sticker_ids[start:start + batch_size]).to(device)  # (B, 3, H, W)
        with torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda"):
            feats = model.encode_images(batch)  # (B, D)
        out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
    dim = int(model.model_config.get("embed_dim", 0))
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


@dataclass
class PairScores:
    """Cosine of each pair and its label, in file order."""

    scores: np.ndarray  # (P,) float64
    labels: np.ndarray  # (P,) int


@dataclass
class Evaluation:
    """One model on one (val, test) pair of files."""

    metrics: dict[str, float | None]  # accuracy, precision, recall, f1, roc_auc, threshold...
    threshold: float
    threshold_source: str  # "val" | "given" | "test (optimistic: no validation file)"
    test: PairScores
    val: PairScores | None = None
    retrieval: dict[str, float] = field(default_factory=dict)


# (sticker ids, their still paths) -> (N, D) unit vectors in that order: a model or a baseline.
Embedder = Callable[[Sequence[str], Mapping[str, Path]], np.ndarray]
ScoreMap = Callable[[np.ndarray], np.ndarray]  # pair cosines -> pair scores (monotone)


def model_embedder(model: GseModel) -> Embedder:
    """The model as an :data:`Embedder` (its own preprocessing, batched, no grad)."""
    return lambda ids, paths: embed_stickers(model, StickerPixels(paths, model.preprocess), ids)


def score_pairs(
    embed: Embedder | GseModel, pairs: Sequence[PairRow], resolver: ImageResolver, *,
    where: str, to_score: ScoreMap | None = None,
) -> tuple[PairScores, list[str], np.ndarray]:
    """Embeds the pairs' stickers once; returns the scores plus (ids, (N, D) vectors)."""
    if isinstance(embed, GseModel):
        embed = model_embedder(embed)
    ids = pair_sticker_ids(pairs)
    vectors = embed(ids, resolve_images(ids, resolver, where=where))  # (N, D)
    row = {sid: i for i, sid in enumerate(ids)}
    a = np.asarray([row[p.sticker_id] for p in pairs])
    b = np.asarray([row[p.sticker_id_2] for p in pairs])
    labels = np.asarray([p.label for p in pairs], dtype=int)
    scores = cosine_scores(vectors, a, b)
    return PairScores(scores if to_score is None else to_score(scores), labels), ids, vectors


def evaluate_embedder(
    embed: Embedder, *, test: Sequence[PairRow], resolver: ImageResolver,
    val: Sequence[PairRow] | None = None, threshold: float | None = None,
    groups: Mapping[str, Hashable] | None = None, to_score: ScoreMap | None = None,
) -> Evaluation:
    """The protocol for any scorer: tunes the threshold on ``val`` (else uses ``threshold``,
    else tunes on ``test`` and says so), then scores ``test``; retrieval groups default to
    positive components.

    A split without both classes is refused (:func:`require_scorable`): its scores would be
    a meaningless 1.0 or 0.
    """
    require_scorable("test", (p.label for p in test))
    val_scores = None
    if val:
        require_scorable("validation", (p.label for p in val))
        val_scores, _, _ = score_pairs(embed, val, resolver, where="validation pairs",
                                       to_score=to_score)
    test_scores, ids, vectors = score_pairs(embed, test, resolver, where="test pairs",
                                            to_score=to_score)
    if groups is None:
        comp = positive_groups((p.sticker_id, p.sticker_id_2) for p in test if p.label == 1)
        groups = comp
    retrieval = retrieval_recall(vectors, [groups.get(s) for s in ids])
    return evaluation_from_scores(test_scores, val_scores, threshold=threshold,
                                  retrieval=retrieval)


def evaluation_from_scores(
    test: PairScores, val: PairScores | None = None, *, threshold: float | None = None,
    retrieval: dict[str, float] | None = None,
) -> Evaluation:
    """The protocol on pair scores already computed (e.g. a VLM judge's): the threshold is
    tuned on ``val`` when given, else ``threshold``, else tuned on ``test`` and flagged."""
    require_scorable("test", test.labels)
    if val is not None:
        require_scorable("validation", val.labels)
        threshold, _ = best_f1_threshold(val.scores, val.labels)
        source = "val"
    elif threshold is None:
        threshold, _ = best_f1_threshold(test.scores, test.labels)
        source = "test (optimistic: no validation file)"
    else:
        source = "given"
    return Evaluation(
        metrics=binary_metrics(test.scores, test.labels, threshold), threshold=float(threshold),
        threshold_source=source, test=test, val=val, retrieval=dict(retrieval or {}),
    )


def evaluate_model(
    model: GseModel, *, test: Sequence[PairRow], resolver: ImageResolver,
    val: Sequence[PairRow] | None = None, threshold: float | None = None,
    groups: Mapping[str, Hashable] | None = None,
) -> Evaluation:
    """:func:`evaluate_embedder` with the model's image embeddings."""
    return evaluate_embedder(model_embedder(model), test=test, resolver=resolver, val=val,
                             threshold=threshold, groups=groups)


def evaluate_baselines(
    names: Sequence[str], *, test: Sequence[PairRow], resolver: ImageResolver,
    val: Sequence[PairRow] | None = None, groups: Mapping[str, Hashable] | None = None,
) -> dict[str, Evaluation]:
    """Each named surface baseline under exactly the GSE's protocol."""
    out = {}
    for name in names:
        baseline = SURFACE_BASELINES[name]
        out[name] = evaluate_embedder(baseline.embed, test=test, resolver=resolver, val=val,
                                      groups=groups, to_score=baseline.to_score)
    return out
