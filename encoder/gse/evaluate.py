"""Evaluating an encoder on Triple-S pairs: threshold on validation, metrics on test.

Also sticker-to-sticker retrieval over the test stickers, grouped by shared positives
(connected components) or by a label column when one is given (e.g. the demo's concepts).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from encoder.gse.data import ImageResolver, PairRow, StickerPixels, pair_sticker_ids, resolve_images
from encoder.gse.metrics import (
    best_f1_threshold,
    binary_metrics,
    cosine_scores,
    positive_groups,
    retrieval_recall,
)
from encoder.gse.model import GseModel

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


def score_pairs(
    model: GseModel, pairs: Sequence[PairRow], resolver: ImageResolver, *, where: str
) -> tuple[PairScores, list[str], np.ndarray]:
    """Embeds the pairs' stickers once; returns the scores plus (ids, (N, D) vectors)."""
    ids = pair_sticker_ids(pairs)
    pixels = StickerPixels(resolve_images(ids, resolver, where=where), model.preprocess)
    vectors = embed_stickers(model, pixels, ids)  # (N, D)
    row = {sid: i for i, sid in enumerate(ids)}
    a = np.asarray([row[p.sticker_id] for p in pairs])
    b = np.asarray([row[p.sticker_id_2] for p in pairs])
    labels = np.asarray([p.label for p in pairs], dtype=int)
    return PairScores(cosine_scores(vectors, a, b), labels), ids, vectors


def evaluate_model(
    model: GseModel, *, test: Sequence[PairRow], resolver: ImageResolver,
    val: Sequence[PairRow] | None = None, threshold: float | None = None,
    groups: Mapping[str, Hashable] | None = None,
) -> Evaluation:
    """Tunes the threshold on ``val`` (else uses ``threshold``, else tunes on ``test`` and
    says so), then scores ``test``; retrieval groups default to positive components."""
    val_scores = None
    if val:
        val_scores, _, _ = score_pairs(model, val, resolver, where="validation pairs")
        threshold, _ = best_f1_threshold(val_scores.scores, val_scores.labels)
        source = "val"
    test_scores, ids, vectors = score_pairs(model, test, resolver, where="test pairs")
    if threshold is None:
        threshold, _ = best_f1_threshold(test_scores.scores, test_scores.labels)
        source = "test (optimistic: no validation file)"
    elif not val:
        source = "given"
    if groups is None:
        comp = positive_groups((p.sticker_id, p.sticker_id_2) for p in test if p.label == 1)
        groups = comp
    retrieval = retrieval_recall(vectors, [groups.get(s) for s in ids])
    return Evaluation(
        metrics=binary_metrics(test_scores.scores, test_scores.labels, threshold),
        threshold=float(threshold), threshold_source=source, test=test_scores, val=val_scores,
        retrieval=retrieval,
    )
