"""A GSE run's report (encoder/gse/pipeline.py, report.py): surface baselines beside the GSE,
bootstrap intervals and the verdict; a split that cannot be scored is refused before training.
No database: the tiny OpenCLIP on a generated snapshot."""

from __future__ import annotations

import json

import pytest

from annotation.errors import InputError
from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.config import TrainConfig
from encoder.gse.data import folder_resolver, snapshot_pairs_load
from encoder.gse.pipeline import gse_run
from tests.encoder.gse_factory import make_snapshot_folder

FAST = {"epochs": 1, "lr": 1e-3, "batch_size": 8, "warmup_steps": 2, "device": "cpu"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_run_reports_every_baseline_with_intervals(tiny_openclip, tmp_path):
    # given a generated snapshot
    snapshot = make_snapshot_folder(tmp_path / "snap")
    snap = snapshot_pairs_load(snapshot["folder"])
    # when a GSE is trained and evaluated
    result = gse_run(snapshot=snap, resolver=folder_resolver(snapshot["folder"] / "stickers"),
                     queries=snapshot["queries"], base_model=tiny_openclip["config_path"],
                     pretrained=tiny_openclip["checkpoint"], config=TrainConfig(**FAST),
                     out_dir=tmp_path / "out")
    # then the metrics hold every surface baseline and intervals for every scorer
    metrics = result.metrics()
    assert set(metrics["baselines"]) == set(SURFACE_BASELINES)
    boot = metrics["bootstrap"]
    assert set(boot["scorers"]) == {"GSE", "base", *SURFACE_BASELINES}
    assert set(boot["differences"]) == {"base", *SURFACE_BASELINES}
    for name, intervals in boot["scorers"].items():
        auc = intervals["roc_auc"]
        assert auc["low"] <= auc["point"] <= auc["high"], name
    assert "best baseline" in metrics["verdict"]
    # and the JSON and the markdown say the same
    data = json.loads(open(result.report_files["json"]).read())
    assert data["verdict"] == metrics["verdict"]
    markdown = open(result.report_files["markdown"]).read()
    assert metrics["verdict"] in markdown
    assert "| dhash |" in markdown and "GSE minus" in markdown


def test_a_test_split_without_negatives_is_refused_before_training(tiny_openclip, tmp_path):
    # given a snapshot whose test split lost its negatives (stickers without queries)
    snapshot = make_snapshot_folder(tmp_path / "snap")
    test_file = snapshot["folder"] / "pairs_test.csv"
    lines = test_file.read_text().splitlines()
    test_file.write_text("\n".join([lines[0], *(x for x in lines[1:] if x.endswith(",1"))]) + "\n")
    snap = snapshot_pairs_load(snapshot["folder"])
    # when a run starts / then it stops at once, naming the split and the missing class
    with pytest.raises(InputError, match="test split: .* no negative pair") as caught:
        gse_run(snapshot=snap, resolver=folder_resolver(snapshot["folder"] / "stickers"),
                queries=snapshot["queries"], base_model=tiny_openclip["config_path"],
                pretrained=tiny_openclip["checkpoint"], config=TrainConfig(**FAST),
                out_dir=tmp_path / "out")
    assert "without queries cannot become negatives" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_the_papers_table_marks_best_and_second_best():
    import numpy as np

    from encoder.gse.evaluate import PairScores, evaluation_from_scores
    from encoder.gse.report import compare, paper_table

    # given three scorers on the same ten pairs: perfect, decent, inverted
    labels = np.asarray([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    perfect = labels * 0.8 + 0.1
    decent = np.asarray([0.9, 0.8, 0.3, 0.7, 0.2, 0.6, 0.1, 0.2, 0.3, 0.1])
    evaluations = {name: evaluation_from_scores(PairScores(s, labels), threshold=0.5)
                   for name, s in (("gse", perfect), ("pixels", decent),
                                   ("inverted", 1 - perfect))}
    # when
    table = paper_table(evaluations, compare(evaluations, reference="gse", n_resamples=50))
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    # then the best AUC is bold, the second underlined, the last plain, each with its interval
    assert "| **1.000** [1.000, 1.000] |" in rows["gse"]
    assert "<u>" in rows["pixels"] and "**" not in rows["pixels"].split(" | ")[2]
    assert "**" not in rows["inverted"] and "<u>" not in rows["inverted"]


def test_the_verdict_compares_with_the_named_baselines_only():
    import numpy as np

    from encoder.gse.evaluate import PairScores, evaluation_from_scores
    from encoder.gse.report import compare

    # given two GSEs (the newer one under test, an older better one) and one surface baseline
    labels = np.asarray([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    perfect = labels * 0.8 + 0.1
    decent = np.asarray([0.9, 0.8, 0.3, 0.7, 0.2, 0.6, 0.1, 0.2, 0.3, 0.1])
    weak = np.asarray([0.9, 0.2, 0.3, 0.7, 0.2, 0.6, 0.8, 0.2, 0.3, 0.1])
    evaluations = {name: evaluation_from_scores(PairScores(s, labels), threshold=0.5)
                   for name, s in (("gse-new", decent), ("gse-old", perfect),
                                   ("pixels", weak))}
    # when the table names its baselines / then the older GSE is never "the best baseline"
    named = compare(evaluations, reference="gse-new", n_resamples=50, baselines=["pixels"])
    assert "(pixels)" in named["verdict"] and "gse-old" not in named["verdict"]
    # and without names every other scorer counts, the older GSE included
    every = compare(evaluations, reference="gse-new", n_resamples=50)
    assert "(gse-old)" in every["verdict"]
