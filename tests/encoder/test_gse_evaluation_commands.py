"""The evaluation commands on a generated snapshot (issue 13): evaluate_gse with baselines and
intervals, by baseline name, on a one-class split, on emotion classes; evaluate_judge against a
loopback server; evaluate_table; the campaign page's registry."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from encoder.gse.baselines import SURFACE_BASELINES
from tests.encoder.gse_factory import make_snapshot_folder
from tests.encoder.test_gse_judge import FakeVlm, vlm_server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_torch_thread")]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_evaluate_gse_scores_the_baselines_beside_the_model(trained, snapshot_row, capsys,
                                                            tmp_path):
    # given a trained GSE and its snapshot's files
    folder = Path(snapshot_row.path)
    # when it is evaluated with a report
    call_command("evaluate_gse", "--model", str(trained.id), "--pairs",
                 str(folder / "pairs_test.csv"), "--images", str(folder / "stickers"),
                 "--val", str(folder / "pairs_val.csv"), "--report", str(tmp_path / "r"))
    out = _json(capsys)
    # then every surface baseline is there, with intervals of the GSE minus each
    assert set(out["baselines"]) == set(SURFACE_BASELINES)
    assert set(out["bootstrap"]["differences"]) == set(SURFACE_BASELINES)
    assert "best baseline" in out["verdict"]
    assert out["verdict"] in (tmp_path / "r" / "report.md").read_text()


def test_the_registry_shows_baselines_intervals_and_the_verdict(trained, snapshot_row,
                                                                admin_client):
    # given a GSE trained on the campaign's snapshot
    # when the campaign page is opened
    page = admin_client.get(f"/campaigns/{snapshot_row.campaign.name}/").content.decode()
    # then its registry row carries the baselines with intervals and the one-line verdict
    assert 'class="baselines"' in page
    for name in SURFACE_BASELINES:
        assert f"{name} " in page
    assert trained.metrics["verdict"][:40].replace("'", "&#x27;") in page
    assert 'class="ci"' in page


def test_evaluate_gse_accepts_a_baseline_by_name(snapshot_row, capsys):
    # given the snapshot's files
    folder = Path(snapshot_row.path)
    # when a surface baseline is evaluated by name
    call_command("evaluate_gse", "--model", "dhash", "--pairs", str(folder / "pairs_test.csv"),
                 "--images", str(folder / "stickers"), "--val", str(folder / "pairs_val.csv"))
    out = _json(capsys)
    # then it is the model of the report, the others its baselines
    assert out["model"] == "dhash" and out["threshold_source"] == "val"
    assert "dhash" not in out["baselines"] and "pixels" in out["baselines"]


def test_evaluate_gse_refuses_a_test_split_without_negatives(snapshot_row, tmp_path):
    # given a test file with positives only
    folder = Path(snapshot_row.path)
    rows = (folder / "pairs_test.csv").read_text().splitlines()
    only = tmp_path / "positives.csv"
    only.write_text("\n".join([rows[0], *(r for r in rows[1:] if r.endswith(",1"))]) + "\n")
    # when / then the command refuses, naming the split and the missing class
    with pytest.raises(CommandError, match="test split: .* no negative pair"):
        call_command("evaluate_gse", "--model", "pixels", "--pairs", str(only),
                     "--images", str(folder / "stickers"), "--val",
                     str(folder / "pairs_val.csv"))


def test_evaluate_gse_emotion_task(snapshot_row, tmp_path, capsys):
    # given emotion labels: the sticker's shape (what the generated concept draws)
    folder = Path(snapshot_row.path)
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sticker", "class"])
        for path in sorted((folder / "stickers").iterdir()):
            writer.writerow([path.name, ("circle", "square", "triangle")[int(path.name[1:3]) % 3]])
    # when
    call_command("evaluate_gse", "--model", "pixels", "--task", "emotion", "--labels",
                 str(labels), "--images", str(folder / "stickers"), "--draws", "5",
                 "--report", str(tmp_path / "r"))
    out = _json(capsys)
    # then each scorer has accuracy and macro P/R/F1 over 5 draws
    assert set(out["results"]) == set(SURFACE_BASELINES)
    pixels = out["results"]["pixels"]
    assert pixels["draws"] == 5 and pixels["classes"] == 3
    assert 0 <= pixels["accuracy"] <= 1 and 0 <= pixels["f1"] <= 1
    assert "macro F1" in (tmp_path / "r" / "emotion.md").read_text()


def test_evaluate_judge_against_a_loopback_server(vlm_server, snapshot_row, tmp_path,  # noqa: F811
                                                  capsys, monkeypatch):
    # given an OpenAI-compatible server on 127.0.0.1
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    folder = Path(snapshot_row.path)
    # when the judge scores the test pairs
    call_command("evaluate_judge", "--pairs", str(folder / "pairs_test.csv"), "--images",
                 str(folder / "stickers"), "--endpoint", vlm_server, "--model", "fake-vlm",
                 "--cache", str(tmp_path / "cache"), "--concurrency", "3",
                 "--report", str(tmp_path / "r"))
    out = _json(capsys)
    # then every pair was asked once, the cost is reported, the baselines stand beside it
    n_pairs = out["n_pairs"]
    assert out["cost"]["requests"] == n_pairs == len(FakeVlm.log)
    assert out["cost"]["total_tokens"] == 110 * n_pairs
    assert out["threshold_source"] == "given" and out["threshold"] == 0.5
    assert set(out["baselines"]) == set(SURFACE_BASELINES)
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"{n_pairs} requests" in report and "| judge fake-vlm |" in report
    # and a second run is answered from the cache
    call_command("evaluate_judge", "--pairs", str(folder / "pairs_test.csv"), "--images",
                 str(folder / "stickers"), "--endpoint", vlm_server, "--model", "fake-vlm",
                 "--cache", str(tmp_path / "cache"), "--baselines", "")
    again = _json(capsys)
    assert again["cost"]["requests"] == 0 and again["cost"]["cached_answers"] == n_pairs


def test_evaluate_table_writes_the_papers_table(trained, snapshot_row, tiny_openclip, settings,
                                                tmp_path, capsys):
    # given the base model configured as the tiny OpenCLIP, and a registered GSE
    settings.GSE_MODEL, settings.GSE_PRETRAINED = (tiny_openclip["config_path"],
                                                   tiny_openclip["checkpoint"])
    settings.GSE_DEVICE = "cpu"
    folder = Path(snapshot_row.path)
    # when
    call_command("evaluate_table", "--pairs-dir", str(folder), "--images",
                 str(folder / "stickers"), "--out", str(tmp_path / "table.md"))
    # then one table has the base, the GSE and every baseline, in Table 3's columns
    text = (tmp_path / "table.md").read_text()
    assert "| Model | Acc. ↑ | AUC ↑ | Recall ↑ | F1 ↑ | Prec. |" in text
    for name in ("base", trained.version, *SURFACE_BASELINES):
        assert f"| {name} |" in text, name
    assert "**" in text and "<u>" in text
    assert f"{trained.version} " in capsys.readouterr().out


def test_a_generated_folder_without_a_database_gse(db, tmp_path, capsys):
    # given a Triple-S folder and no registered model, the base left out
    folder = make_snapshot_folder(tmp_path / "triple-s")["folder"]
    # when
    call_command("evaluate_table", "--pairs-dir", str(folder), "--images",
                 str(folder / "stickers"), "--no-base")
    # then the surface baselines are scored and the table says there is no GSE to compare
    out = capsys.readouterr().out
    assert "| dhash |" in out and "No registered GSE" in out


def test_evaluate_table_includes_the_judge_when_configured(vlm_server, db, tmp_path,  # noqa: F811
                                                           capsys, monkeypatch):
    # given a Triple-S folder and a judge endpoint in the environment
    monkeypatch.setenv("GSE_JUDGE_ENDPOINT", vlm_server)
    monkeypatch.setenv("GSE_JUDGE_MODEL", "fake-vlm")
    monkeypatch.setattr("encoder.evaluation_services.judge_cache_dir",
                        lambda: tmp_path / "cache")
    folder = make_snapshot_folder(tmp_path / "triple-s")["folder"]
    # when
    call_command("evaluate_table", "--pairs-dir", str(folder), "--images",
                 str(folder / "stickers"), "--no-base")
    # then the judge has its row, tuned on the validation pairs, and its cost in the notes
    out = capsys.readouterr().out
    assert "| judge fake-vlm |" in out
    assert "judge fake-vlm: " in out and " requests, " in out
