"""Emotion classification by reference sticker (encoder/gse/emotion.py); pure."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.errors import InputError
from encoder.gse.emotion import classify_by_reference, read_labels_csv, reference_classification


def clustered(n_per_class: int = 10, classes: int = 3, spread: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:classes]
    noise = rng.normal(0, spread, (classes * n_per_class, 8))
    rows = np.repeat(centres, n_per_class, axis=0) + noise
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    labels = np.repeat([f"c{i}" for i in range(classes)], n_per_class).tolist()
    return rows, labels


def test_each_sticker_takes_the_class_of_its_nearest_reference():
    # given two references and three stickers
    vectors = np.asarray([[1, 0], [0, 1], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=float)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # when / then
    assert classify_by_reference(vectors, np.asarray([0, 1])).tolist() == [0, 1, 0, 1, 0]


def test_well_separated_classes_score_one_and_shuffled_ones_near_chance():
    # given tight clusters, and the same vectors with shuffled labels
    vectors, labels = clustered()
    shuffled = list(np.random.default_rng(1).permutation(labels))
    # when
    good = reference_classification(vectors, labels, draws=10)
    bad = reference_classification(vectors, shuffled, draws=10)
    # then
    assert good["accuracy"] == pytest.approx(1.0) and good["f1"] == pytest.approx(1.0)
    assert bad["accuracy"] < 0.6
    assert good["draws"] == 10 and good["classes"] == 3 and good["chance_accuracy"] == 1 / 3


def test_averaged_over_seeded_draws():
    # given noisy clusters
    vectors, labels = clustered(spread=0.6)
    # when
    a = reference_classification(vectors, labels, draws=5, seed=3)
    b = reference_classification(vectors, labels, draws=5, seed=3)
    c = reference_classification(vectors, labels, draws=1, seed=4)
    # then
    assert a == b
    assert a["accuracy_std"] > 0
    assert c["accuracy_std"] == 0


def test_labels_csv_errors_name_the_file_and_row(tmp_path):
    # given
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("name,emotion\nx.png,happy\n")
    bad_row = tmp_path / "b.csv"
    bad_row.write_text("sticker,class\nx.png,happy\ny.png\n")
    one_class = tmp_path / "c.csv"
    one_class.write_text("sticker,class\nx.png,happy\ny.png,happy\n")
    # when / then
    with pytest.raises(InputError, match="a.csv: header must be sticker,class"):
        read_labels_csv(bad_header)
    with pytest.raises(InputError, match="b.csv row 3"):
        read_labels_csv(bad_row)
    with pytest.raises(InputError, match="at least 2 classes"):
        read_labels_csv(one_class)
