"""Agreement between annotators on overlapping tasks: pure functions, no Django.

Two measures, both over tasks that more than one annotator judged:
- the mean pairwise Jaccard index of their selections (how much two similar sets overlap);
- Krippendorff's alpha (nominal) on the candidate-level decisions: every candidate of an
  overlapping task is one unit, every annotator's "selected / not selected" one value. Alpha
  corrects for chance agreement, which matters here because most candidates are not selected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b|; two empty selections ("none are similar" twice) agree fully."""
    union = a | b
    if not union:
        return 1.0
    return len(a & b) / len(union)


def mean_pairwise_jaccard(selections_by_task: Mapping[Hashable, Sequence[set]]) -> float | None:
    """Mean Jaccard over every pair of annotators of every task; None with no overlap at all.

    ``selections_by_task`` maps a task to the selections (sets of candidate ids) of each
    annotator who answered it; tasks with a single answer contribute no pair.
    """
    scores = [
        jaccard(a, b)
        for selections in selections_by_task.values()
        for a, b in combinations(selections, 2)
    ]
    if not scores:
        return None
    return sum(scores) / len(scores)


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal values; None when it is undefined.

    ``units`` holds, for each unit, the values the coders gave it (missing values left out).
    Units with fewer than two values are not pairable and are ignored. Alpha is undefined
    (None) when no unit is pairable or when every pairable value is the same (no expected
    disagreement): there is nothing to be reliable about.

    alpha = 1 - D_o / D_e with the coincidence matrix o_ck = sum_u #pairs(c, k in u) / (m_u - 1),
    D_o = sum_{c != k} o_ck / n and D_e = sum_{c != k} n_c n_k / (n (n - 1)).
    """
    disagreement_observed = 0.0  # sum over c != k of o_ck
    totals: Counter = Counter()  # n_c
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        totals.update({value: count for value, count in counts.items()})
        # Ordered pairs of different values in this unit, each weighted 1 / (m - 1).
        different_pairs = m * m - sum(c * c for c in counts.values())
        disagreement_observed += different_pairs / (m - 1)
    n = sum(totals.values())
    if n < 2:
        return None
    expected = n * n - sum(c * c for c in totals.values())  # sum over c != k of n_c n_k
    if expected == 0:
        return None
    return 1.0 - (n - 1) * disagreement_observed / expected


def candidate_units(
    candidates: Sequence[Hashable], selections: Sequence[set]
) -> list[list[int]]:
    """One unit per candidate: 1 for each annotator who selected it, 0 for each who did not."""
    return [[1 if c in selection else 0 for selection in selections] for c in candidates]


def campaign_agreement(
    tasks: Iterable[tuple[Sequence[Hashable], Sequence[set]]],
) -> dict[str, float | int | None]:
    """Jaccard and alpha over tasks given as (candidates, selections of each annotator).

    Only tasks with two or more selections count; returns their number too, so a page can say
    "alpha over 12 tasks" rather than a bare figure.
    """
    overlapping = [(cands, sels) for cands, sels in tasks if len(sels) >= 2]
    units: list[list[int]] = []
    for cands, sels in overlapping:
        units.extend(candidate_units(cands, sels))
    return {
        "tasks": len(overlapping),
        "jaccard": mean_pairwise_jaccard({i: sels for i, (_, sels) in enumerate(overlapping)}),
        "alpha": krippendorff_alpha_nominal(units),
    }


def alpha_from_totals(*, values: int, selected: int, disagreement: float) -> float | None:
    """Krippendorff's alpha (nominal, two values) from the sums ``campaign_stats`` reads in SQL.

    The same alpha as ``krippendorff_alpha_nominal`` over ``candidate_units``, from three
    totals instead of the units: ``values`` (n, every answer's decision on every candidate of
    an overlapping task), ``selected`` (n_1, the "selected" ones) and ``disagreement``
    (sum over units of 2 k (m - k) / (m - 1), k of m answers selecting the candidate). With two
    values the expected disagreement n^2 - n_0^2 - n_1^2 is 2 n_0 n_1, so a campaign's alpha is
    a sum over tasks, computable per bucket and cumulatively without re-reading any unit.
    """
    if values < 2:
        return None
    expected = 2 * (values - selected) * selected
    if expected == 0:
        return None
    return 1.0 - (values - 1) * disagreement / expected


def task_agreement_totals(candidates: Sequence[Hashable], selections: Sequence[set]
                          ) -> dict[str, float | int]:
    """One overlapping task's share of the sums (pairs, Jaccard, values, selected,
    disagreement): the reference the SQL of ``annotation.stats`` is tested against."""
    m = len(selections)
    pairs = list(combinations(selections, 2))
    ks = [sum(c in s for s in selections) for c in candidates]
    return {"pairs": len(pairs), "jaccard_sum": sum(jaccard(a, b) for a, b in pairs),
            "values": m * len(candidates), "selected": sum(ks),
            "disagreement": sum(2 * k * (m - k) / (m - 1) for k in ks) if m > 1 else 0.0}
