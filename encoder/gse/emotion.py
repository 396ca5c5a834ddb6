"""Emotion classification by reference sticker (paper 001, section 6.1.2), pure NumPy.

One sticker per class is drawn at random as that class's reference; every other sticker takes
the class of the reference it is most similar to (cosine). No training at all, so the score
says how well the embedding space alone groups stickers by emotion. One draw depends a lot on
which reference was picked, so the figures are averaged over ``draws`` seeded draws (with their
standard deviation).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from annotation.errors import InputError

DRAWS = 20  # reference draws averaged; each is one (N, C) matrix product
LABEL_HEADERS = (["sticker", "class"], ["sticker_id", "class"])


def read_labels_csv(path: str | Path) -> dict[str, str]:
    """``sticker,class`` rows (``sticker_id,class`` too) -> {sticker: class}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "labels file not found")
    out: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if header not in LABEL_HEADERS:
            raise InputError(str(path), f"header must be sticker,class, got {header}")
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise InputError(f"{path} row {line}", f"expected sticker,class, got {row}")
            out[row[0].strip()] = row[1].strip()
    classes = set(out.values())
    if len(classes) < 2:
        raise InputError(str(path), f"needs at least 2 classes, got {sorted(classes)}")
    return out


def classify_by_reference(vectors: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(N,) index into ``references`` of each row's most similar reference row."""
    sims = vectors @ vectors[references].T  # (N, C) cosines of unit rows
    return np.argmax(sims, axis=1)


def reference_classification(
    vectors: np.ndarray, classes: Sequence[str], *, draws: int = DRAWS, seed: int = 0,
) -> dict[str, Any]:
    """Accuracy and macro precision/recall/F1, mean and std over ``draws`` reference draws.

    ``vectors`` (N, D) are unit embeddings, ``classes[i]`` the class of row i. The reference
    stickers are left out of the scored stickers of their draw.
    """
    labels = np.asarray(classes)
    names = sorted(set(labels.tolist()))
    members = [np.flatnonzero(labels == c) for c in names]
    rng = np.random.default_rng(seed)
    per_draw: dict[str, list[float]] = {k: [] for k in ("accuracy", "precision", "recall", "f1")}
    for _ in range(draws):
        refs = np.asarray([rng.choice(m) for m in members])  # (C,) one sticker per class
        scored = np.setdiff1d(np.arange(len(labels)), refs)
        predicted = np.asarray(names)[classify_by_reference(vectors, refs)[scored]]
        truth = labels[scored]
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=names,
                                                     average="macro", zero_division=0)
        for key, value in (("accuracy", accuracy_score(truth, predicted)), ("precision", p),
                           ("recall", r), ("f1", f)):
            per_draw[key].append(float(value))
    out: dict[str, Any] = {k: float(np.mean(v)) for k, v in per_draw.items()}
    out.update({f"{k}_std": float(np.std(v)) for k, v in per_draw.items()})
    out.update({"draws": draws, "seed": seed, "classes": len(names),
                "stickers": len(labels), "chance_accuracy": 1.0 / len(names)})
    return out


def emotion_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: one row per scorer, mean +- std over the draws."""
    lines = ["| model | accuracy | macro precision | macro recall | macro F1 |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        cells = [f"{r[k]:.3f} ± {r[k + '_std']:.3f}"
                 for k in ("accuracy", "precision", "recall", "f1")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
