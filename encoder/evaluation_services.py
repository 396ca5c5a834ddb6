"""Evaluations beyond one model on one pair file: the VLM judge baseline, emotion
classification by reference sticker, and the paper's Table 3 over every available scorer.

The scoring itself is ``encoder.gse`` (no Django); these services find the models (registered
versions, the configured base), resolve stickers to stills and write the reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from encoder.gse.baselines import SURFACE_BASELINES
from encoder.gse.data import (
    PairRow,
    pair_sticker_ids,
    read_pairs_csv,
    resolve_images,
)
from encoder.gse.emotion import emotion_table, read_labels_csv, reference_classification
from encoder.gse.evaluate import (
    Evaluation,
    evaluate_baselines,
    evaluate_model,
    evaluation_from_scores,
    model_embedder,
)
from encoder.gse.judge import (
    CONCURRENCY,
    TIMEOUT_S,
    JudgeCache,
    JudgeRun,
    judge_pairs,
    openai_asker,
)
from encoder.gse.pipeline import baseline_notes
from encoder.gse.report import compare, evaluation_summary, paper_table, write_report
from encoder.models import EncoderVersion
from encoder.spec import EncoderError
from encoder.training_services import gse_model_for, pairs_resolver

logger = logging.getLogger(__name__)

JUDGE_THRESHOLD = 0.5  # without a validation file the judge says "similar" at score >= 0.5
Progress = Callable[[int, int], None]


def judge_cache_dir() -> Path:
    """Where judge answers are kept between runs (one file per model)."""
    return Path(settings.GSE_MODELS_DIR).parent / "judge_cache"


# ---------------------------------------------------------------- the VLM judge


def _judge(pairs: Sequence[PairRow], resolver, *, endpoint: str, model: str, cache_dir: Path,
           concurrency: int, timeout: float, where: str,
           progress: Progress | None) -> JudgeRun:
    ask = openai_asker(endpoint=endpoint, model=model, timeout=timeout)
    return judge_pairs(pairs, resolver, ask=ask, cache=JudgeCache(cache_dir, model),
                       concurrency=concurrency, where=where, progress=progress)


def judge_evaluation(
    *, test: Sequence[PairRow], val: Sequence[PairRow] | None, resolver, endpoint: str,
    model: str, cache_dir: str | Path | None = None, concurrency: int = CONCURRENCY,
    timeout: float = TIMEOUT_S, progress: Progress | None = None,
) -> tuple[Evaluation, dict[str, Any]]:
    """The judge under the protocol (threshold tuned on ``val`` when given, else 0.5) and the
    cost of the run (requests, cached answers, tokens, answers by status) over both files."""
    folder = Path(cache_dir) if cache_dir else judge_cache_dir()
    common = {"endpoint": endpoint, "model": model, "cache_dir": folder,
              "concurrency": concurrency, "timeout": timeout, "progress": progress}
    val_run = _judge(val, resolver, where="validation pairs", **common) if val else None
    test_run = _judge(test, resolver, where="test pairs", **common)
    evaluation = evaluation_from_scores(
        test_run.scores, val_run.scores if val_run else None,
        threshold=None if val_run else JUDGE_THRESHOLD)
    cost = test_run.cost.as_dict()
    if val_run is not None:
        extra = val_run.cost.as_dict()
        for key in ("requests", "cached_answers", "prompt_tokens", "completion_tokens",
                    "total_tokens"):
            cost[key] += extra[key]
        for status, n in extra["answers"].items():
            cost["answers"][status] = cost["answers"].get(status, 0) + n
    cost.update({"model": model, "endpoint": endpoint, "concurrency": concurrency,
                 "cache": str(JudgeCache(folder, model).path)})
    return evaluation, cost


def judge_evaluate(
    *, pairs_csv: str | Path, images_dir: str | Path, endpoint: str, model: str,
    val_csv: str | Path | None = None, cache_dir: str | Path | None = None,
    concurrency: int = CONCURRENCY, timeout: float = TIMEOUT_S,
    report_dir: str | Path | None = None, baselines: Sequence[str] = tuple(SURFACE_BASELINES),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``evaluate_judge``: the judge on a pair file beside the surface baselines, with paired
    bootstrap intervals (judge minus each) and the cost of the run."""
    test = read_pairs_csv(pairs_csv, split="test")
    val = read_pairs_csv(val_csv, split="val") if val_csv else None
    resolver = pairs_resolver(pair_sticker_ids([*test, *(val or [])]), images_dir)
    judge, cost = judge_evaluation(test=test, val=val, resolver=resolver, endpoint=endpoint,
                                   model=model, cache_dir=cache_dir, concurrency=concurrency,
                                   timeout=timeout, progress=progress)
    name = f"judge {model}"
    evaluations = {name: judge,
                   **evaluate_baselines(baselines, test=test, val=val, resolver=resolver)}
    bootstrap = compare(evaluations, reference=name) if len(evaluations) > 1 else None
    summary: dict[str, Any] = {"model": name, **evaluation_summary(judge), "cost": cost,
                               "baselines": {k: evaluation_summary(v)
                                             for k, v in evaluations.items() if k != name}}
    if bootstrap is not None:
        summary["bootstrap"], summary["verdict"] = bootstrap, bootstrap["verdict"]
    if report_dir:
        notes = [f"Judge: {model} at {endpoint}, paper 001 appendix A prompt; cost: "
                 f"{cost['requests']} requests ({cost['cached_answers']} answers from the "
                 f"cache), {cost['total_tokens']} tokens ({cost['prompt_tokens']} prompt, "
                 f"{cost['completion_tokens']} completion); answers {cost['answers']}, a pair "
                 f"without a usable answer scored {cost['unanswered_scored_as']}.",
                 *baseline_notes(baselines)]
        summary["report_files"] = write_report(
            report_dir, title=f"{name} on {Path(pairs_csv).name}", evaluations=evaluations,
            info={"pairs": str(pairs_csv), "images": str(images_dir),
                  "val": str(val_csv or "")}, notes=notes, bootstrap=bootstrap)
    return summary


# ---------------------------------------------------------------- emotion classification


def emotion_evaluate(
    *, model: EncoderVersion | str, labels_csv: str | Path, images_dir: str | Path,
    base_model: str = "", pretrained: str | None = None, draws: int = 20, seed: int = 0,
    baselines: Sequence[str] = tuple(SURFACE_BASELINES), report_dir: str | Path | None = None,
) -> dict[str, Any]:
    """``evaluate_gse --task emotion``: classification by one reference sticker per class,
    for the model (a version, ``base`` or a surface baseline) and the surface baselines."""
    labels = read_labels_csv(labels_csv)
    ids = sorted(labels)
    paths = resolve_images(ids, pairs_resolver(ids, images_dir), where=str(labels_csv))
    classes = [labels[s] for s in ids]
    if isinstance(model, str) and model in SURFACE_BASELINES:
        name, embedders = model, {}
    else:
        name = model.version if isinstance(model, EncoderVersion) else "base"
        embedders = {name: model_embedder(gse_model_for(model, base_model, pretrained))}
    embedders.update({b: SURFACE_BASELINES[b].embed for b in [name, *baselines]
                      if b in SURFACE_BASELINES and b not in embedders})
    results = {k: reference_classification(embed(ids, paths), classes, draws=draws, seed=seed)
               for k, embed in embedders.items()}
    summary: dict[str, Any] = {"task": "emotion", "model": name, "labels": str(labels_csv),
                               "results": results, "table": emotion_table(results)}
    if report_dir:
        folder = Path(report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        first = results[name]
        text = [f"# Emotion classification by reference sticker: {name}", "",
                f"{first['stickers']} stickers, {first['classes']} classes (chance accuracy "
                f"{first['chance_accuracy']:.3f}); one reference sticker per class, drawn "
                f"{draws} times (seed {seed}); mean ± std over the draws; macro averages.", "",
                emotion_table(results), ""]
        (folder / "emotion.md").write_text("\n".join(text))
        summary["report_files"] = {"markdown": str(folder / "emotion.md")}
    return summary


# ---------------------------------------------------------------- the paper's Table 3


def _folder_splits(folder: Path) -> tuple[list[PairRow], list[PairRow] | None, str]:
    """Test pairs and the pairs the thresholds are tuned on: val, else train, else none."""
    test = read_pairs_csv(folder / "pairs_test.csv", split="test")
    for name, split in (("pairs_val.csv", "val"), ("pairs_train.csv", "train")):
        if (folder / name).is_file():
            return test, read_pairs_csv(folder / name, split=split), name
    return test, None, "(none: tuned on the test pairs, optimistic)"


def table_evaluate(
    *, pairs_dir: str | Path, images_dir: str | Path, out: str | Path | None = None,
    include_base: bool = True, judge_endpoint: str = "", judge_model: str = "",
    judge_concurrency: int = CONCURRENCY, baselines: Sequence[str] = tuple(SURFACE_BASELINES),
    write: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Every scorer available on a Triple-S folder, as one markdown table like Table 3.

    Scorers: the base model (GSE_MODEL / GSE_PRETRAINED), every finished registered GSE, the
    surface baselines, and the judge when an endpoint and model are given. A scorer that
    cannot be loaded is left out and named in the notes, not fatal.
    """
    folder = Path(pairs_dir)
    test, val, tuned_on = _folder_splits(folder)
    resolver = pairs_resolver(pair_sticker_ids([*test, *(val or [])]), images_dir)
    evaluations: dict[str, Evaluation] = {}
    notes = [f"Thresholds tuned for F1 on {tuned_on}; metrics on pairs_test.csv "
             f"({len(test)} pairs, {sum(p.label for p in test)} positive)."]
    models: list[tuple[str, EncoderVersion | str]] = [("base", "base")] if include_base else []
    models += [(v.version, v) for v in EncoderVersion.objects.filter(
        kind=EncoderVersion.Kind.GSE, status=EncoderVersion.Status.DONE).order_by("created_at")]
    for name, model in models:
        write(f"scoring {name}")
        try:
            evaluations[name] = evaluate_model(gse_model_for(model, "", None), test=test, val=val,
                                               resolver=resolver)
        except (EncoderError, OSError, RuntimeError) as e:
            notes.append(f"{name}: left out, it does not load here ({str(e)[:200]})")
    write("scoring the surface baselines")
    evaluations.update(evaluate_baselines(baselines, test=test, val=val, resolver=resolver))
    notes += baseline_notes(baselines)
    if judge_endpoint and judge_model:
        write(f"asking the judge {judge_model}")
        judge, cost = judge_evaluation(test=test, val=val, resolver=resolver,
                                       endpoint=judge_endpoint, model=judge_model,
                                       concurrency=judge_concurrency)
        evaluations[f"judge {judge_model}"] = judge
        notes.append(f"judge {judge_model}: {cost['requests']} requests, "
                     f"{cost['total_tokens']} tokens, answers {cost['answers']}")
    gses = [name for name, m in models if isinstance(m, EncoderVersion) and name in evaluations]
    reference = gses[-1] if gses else None
    bootstrap = compare(evaluations, reference=reference,
                        baselines=[k for k in evaluations if k not in gses])
    if reference is None:
        bootstrap["verdict"] = "No registered GSE: the table compares the other scorers only."
    table = paper_table(evaluations, bootstrap)
    summary = {"pairs_dir": str(folder), "table": table, "notes": notes,
               "verdict": bootstrap["verdict"],
               "metrics": {k: evaluation_summary(v) for k, v in evaluations.items()},
               "bootstrap": bootstrap}
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = [f"# Semantic similarity on {folder.name} (Table 3 format)", "",
                "**Bold** best, <u>underline</u> second best; AUC and F1 with paired bootstrap "
                "95% intervals.", "", table, "", f"**{bootstrap['verdict']}**", "",
                *(f"- {n}" for n in notes), ""]
        out.write_text("\n".join(text))
        summary["out"] = str(out)
    return summary

