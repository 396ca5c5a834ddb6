"""Whether a split can be scored: a pair classifier needs both classes (pure, no Django).

With one class every threshold below all scores gives accuracy, precision, recall and F1 of 1.0
(or all 0), and ROC-AUC is undefined: a "perfect" score that says nothing. So a snapshot export
warns (and records it in its manifest), and training and evaluation refuse such a split with a
message naming the missing class and how the pair rules make it.
"""

from __future__ import annotations

from collections.abc import Iterable

from annotation.errors import InputError

# Why a class can be missing, from the pair rules (SPEC "The pair rules"), and what to do.
WHY_MISSING = {
    "negative": (
        "a negative needs two stickers displayed together at least twice, never selected "
        "together, with fewer than 3 shared queries and query-text cosine < 0.7; stickers "
        "without queries cannot become negatives. Import their queries (import_queries) or "
        "collect them with the Sticktionary game, rebuild the pairs and export again"),
    "positive": (
        "a positive needs two stickers selected together in at least 2 similar sets; annotate "
        "more anchors in both iterations (or include unreviewed pairs), rebuild and export "
        "again"),
}


def missing_class_reason(labels: Iterable[int]) -> str | None:
    """None when ``labels`` hold both classes, else why they cannot be scored and what to do."""
    values = [int(y) for y in labels]
    positives = sum(values)
    negatives = len(values) - positives
    if not values:
        return "no pairs: nothing to score"
    missing = "negative" if negatives == 0 else "positive" if positives == 0 else None
    if missing is None:
        return None
    return (f"{len(values)} pairs, {positives} positive and {negatives} negative: no "
            f"{missing} pair, so it cannot be scored (ROC-AUC is undefined and any threshold "
            f"looks perfect); {WHY_MISSING[missing]}")


def split_class_problem(split: str, labels: Iterable[int]) -> str | None:
    """``"<split> split: <reason>"`` when the split lacks a class (the export's warning)."""
    reason = missing_class_reason(labels)
    return None if reason is None else f"{split} split: {reason}"


def require_scorable(split: str, labels: Iterable[int]) -> None:
    """Raises :class:`InputError` naming the split and the missing class."""
    reason = missing_class_reason(labels)
    if reason is not None:
        raise InputError(f"{split} split", reason)
