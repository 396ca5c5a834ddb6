"""Agreement measures against values computed by hand (no database)."""

import pytest

from annotation.agreement import (
    campaign_agreement,
    candidate_units,
    jaccard,
    krippendorff_alpha_nominal,
    mean_pairwise_jaccard,
)


def test_jaccard_by_hand():
    assert jaccard({1, 2, 3}, {2, 3, 4}) == pytest.approx(2 / 4)
    assert jaccard(set(), set()) == 1.0  # "none are similar" twice is full agreement
    assert jaccard({1}, set()) == 0.0


def test_mean_pairwise_jaccard_over_tasks_and_pairs():
    # given: task A has three annotators (3 pairs), task B one (no pair)
    by_task = {"A": [{1, 2}, {1}, {1, 2}], "B": [{5}]}
    # when / then: pairs (1/2, 1, 1/2) -> mean 2/3
    assert mean_pairwise_jaccard(by_task) == pytest.approx(2 / 3)
    assert mean_pairwise_jaccard({"B": [{5}]}) is None


def test_alpha_binary_by_hand():
    # given: two coders, units (1,1) (0,0) (1,0) (0,0)
    # o00=4 o11=2 o01=o10=1, n0=5 n1=3 n=8: alpha = 1 - 7 * 2 / 30 = 16/30
    units = [[1, 1], [0, 0], [1, 0], [0, 0]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(16 / 30)


def test_alpha_krippendorff_reference_example():
    # given: Krippendorff (2011) "Computing Krippendorff's alpha-reliability", nominal example,
    # 4 coders x 12 units with missing values; the published nominal alpha is 0.743
    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3]
    c = [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None]
    d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]
    units = [[v for v in col if v is not None] for col in zip(a, b, c, d, strict=True)]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_perfect_and_undefined():
    assert krippendorff_alpha_nominal([[1, 1], [0, 0]]) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal([[0, 0], [0, 0]]) is None  # no variation at all
    assert krippendorff_alpha_nominal([[1]]) is None  # nothing pairable


def test_campaign_agreement_uses_only_overlapping_tasks():
    # given: task 1 judged twice over candidates a..d, task 2 once
    tasks = [(["a", "b", "c", "d"], [{"a"}, {"a", "b"}]), (["x"], [{"x"}])]
    # when
    result = campaign_agreement(tasks)
    # then: units a=(1,1) b=(0,1) c=(0,0) d=(0,0): o11=2 o00=4 o01=o10=1 -> 16/30
    assert candidate_units(["a", "b"], [{"a"}, {"a", "b"}]) == [[1, 1], [0, 1]]
    assert result["tasks"] == 1
    assert result["jaccard"] == pytest.approx(0.5)
    assert result["alpha"] == pytest.approx(16 / 30)


def test_alpha_from_totals_equals_alpha_over_the_units():
    # given: random overlapping tasks with 2-4 answers, some selections outside the candidates
    import random

    from annotation.agreement import alpha_from_totals, task_agreement_totals

    rng = random.Random(3)
    tasks = []
    for _ in range(40):
        candidates = list(range(rng.randint(0, 8)))
        selections = [set(rng.sample(range(10), rng.randint(0, 4)))
                      for _ in range(rng.randint(2, 4))]
        tasks.append((candidates, selections))
    # when: the six sums per task, added up
    sums = [task_agreement_totals(c, s) for c, s in tasks]
    total = {k: sum(t[k] for t in sums) for k in sums[0]}
    # then: alpha and Jaccard equal the unit-by-unit computation
    expected = campaign_agreement(tasks)
    assert alpha_from_totals(values=total["values"], selected=total["selected"],
                             disagreement=total["disagreement"]) == pytest.approx(
        expected["alpha"])
    assert total["jaccard_sum"] / total["pairs"] == pytest.approx(expected["jaccard"])
    # and undefined alpha stays undefined: no value, or nobody ever selected anything
    assert alpha_from_totals(values=1, selected=0, disagreement=0.0) is None
    assert alpha_from_totals(values=40, selected=0, disagreement=0.0) is None
