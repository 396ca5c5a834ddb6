"""Reads for the campaign dashboard: the series its charts draw and its tables list.

Each chart and the table beside it are rendered from the same dict, and every count is a
database aggregate made when the page is asked for (no cached tallies: Label Studio #7902).
The dicts are JSON-ready (the page hands them to Chart.js through ``json_script``) and carry
human labels only: no internal value, file path or choice key is meant to reach the page.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import PurePath
from typing import Any

from django.db.models import Count, Max, Min
from django.db.models.functions import Trunc

from annotation.agreement import campaign_agreement
from annotation.models import Annotation, Campaign, Candidate, Task
from encoder.models import EncoderVersion
from pairbuilder.models import Pair, PairBuild, Snapshot

UTC = dt.UTC
# Buckets of the time charts: hours for a campaign of a few days, then days, then weeks, so
# a chart never has more than a few hundred bars.
HOURLY_UP_TO = dt.timedelta(days=3)
DAILY_UP_TO = dt.timedelta(days=180)
STEP = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}
LABEL_FORMAT = {"hour": "%b %d %H:00", "day": "%b %d", "week": "week of %b %d"}

# The surface baselines of encoder/gse/baselines.py, by their stored names.
SCORER_LABELS = {"gse": "GSE", "base": "Base model", "pixels": "Raw pixels",
                 "histogram": "Colour histogram", "dhash": "Difference hash",
                 "phash": "Perceptual hash"}


def _bucket_unit(first: dt.datetime, last: dt.datetime) -> str:
    span = last - first
    return "hour" if span <= HOURLY_UP_TO else "day" if span <= DAILY_UP_TO else "week"


def _floor(moment: dt.datetime, unit: str) -> dt.datetime:
    """The bucket start ``Trunc`` gives, computed here to lay out the empty buckets too."""
    moment = moment.astimezone(UTC)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if unit == "day" else day - dt.timedelta(days=day.weekday())


def _buckets(first: dt.datetime, last: dt.datetime, unit: str) -> list[dt.datetime]:
    start, end, out = _floor(first, unit), _floor(last, unit), []
    while start <= end:
        out.append(start)
        start += STEP[unit]
    return out


def annotation_activity(*, campaign: Campaign) -> dict[str, Any]:
    """Annotations per hour (or day, or week) and per iteration, gaps filled with zeros.

    Returns ``{"unit", "iterations": [1, 2], "rows": [{"start" (ISO), "label", "counts"
    (one per iteration), "total"}]}``; no rows before the first answer.
    """
    answers = Annotation.objects.filter(task__campaign=campaign)
    span = answers.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"] is None:
        return {"unit": "hour", "iterations": [], "rows": []}
    unit = _bucket_unit(span["first"], span["last"])
    counts: dict[tuple[dt.datetime, int], int] = {}
    for bucket, iteration, n in (answers.annotate(bucket=Trunc("created_at", unit, tzinfo=UTC))
                                 .values_list("bucket", "task__iteration")
                                 .annotate(n=Count("pk"))):
        counts[(bucket.astimezone(UTC), iteration)] = n
    iterations = sorted({it for _, it in counts})
    rows = []
    for start in _buckets(span["first"], span["last"], unit):
        per_iteration = [counts.get((start, it), 0) for it in iterations]
        rows.append({"start": start.isoformat(), "label": start.strftime(LABEL_FORMAT[unit]),
                     "counts": per_iteration, "total": sum(per_iteration)})
    return {"unit": unit, "iterations": iterations, "rows": rows}


def annotator_pace(*, annotators: list[dict]) -> list[dict[str, Any]]:
    """Each annotator's volume and pace (median seconds per task), from the rows of
    ``annotation.selectors.campaign_stats`` (the API's stats give the same figures)."""
    return [{"name": a["annotator"], "annotations": a["annotations"], "skips": a["skips"],
             "median_seconds": None if a["median_ms"] is None else round(a["median_ms"] / 1000, 1)}
            for a in annotators]


def _overlapping_tasks(campaign: Campaign) -> list[tuple[dt.datetime, list[int], list[set]]]:
    """Tasks with two or more answers: (when the last answer came, candidates, selections)."""
    tasks = dict(Task.objects.filter(campaign=campaign).annotate(n=Count("annotations"))
                 .filter(n__gte=2).annotate(last=Max("annotations__created_at"))
                 .values_list("pk", "last"))
    candidates: dict[int, list[int]] = defaultdict(list)
    for task_id, sticker_id in (Candidate.objects.filter(candidate_set__task__in=list(tasks))
                                .order_by("rank").values_list("candidate_set__task", "sticker_id")):
        candidates[task_id].append(sticker_id)
    selections: dict[int, dict[int, set]] = defaultdict(lambda: defaultdict(set))
    for task_id, answer_id, sticker_id in (Annotation.objects.filter(task__in=list(tasks))
                                           .values_list("task", "pk", "selected")):
        chosen = selections[task_id][answer_id]
        if sticker_id is not None:
            chosen.add(sticker_id)
    return sorted(((tasks[t], candidates[t], list(selections[t].values())) for t in tasks),
                  key=lambda row: row[0])


def agreement_over_time(*, campaign: Campaign) -> dict[str, Any]:
    """Agreement on overlapping tasks, bucketed by when a task got its last answer: the
    bucket's own tasks (Jaccard, alpha) and every task up to it (alpha so far). Only buckets
    in which an overlap completed get a row."""
    tasks = _overlapping_tasks(campaign)
    if not tasks:
        return {"unit": "day", "rows": []}
    unit = _bucket_unit(tasks[0][0], tasks[-1][0])
    by_bucket: dict[dt.datetime, list] = defaultdict(list)
    for last, cands, sels in tasks:
        by_bucket[_floor(last, unit)].append((cands, sels))
    rows, so_far = [], []
    for start in sorted(by_bucket):
        so_far.extend(by_bucket[start])
        here = campaign_agreement(by_bucket[start])
        rows.append({"label": start.strftime(LABEL_FORMAT[unit]), "tasks": here["tasks"],
                     "jaccard": _round(here["jaccard"]), "alpha": _round(here["alpha"]),
                     "alpha_so_far": _round(campaign_agreement(so_far)["alpha"])})
    return {"unit": unit, "rows": rows}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def pair_build_counts(*, campaign: Campaign) -> dict[str, Any]:
    """For each finished pair build: pairs per rule (counted in the Pair table) and candidate
    negatives rejected per failed condition (the build's own tally: rejected pairs are not
    stored), labelled with the build's thresholds."""
    builds = list(PairBuild.objects.filter(campaign=campaign, status=PairBuild.Status.DONE)
                  .order_by("pk"))
    labelled = defaultdict(dict)
    for build_id, label, n in (Pair.objects.filter(build__in=builds)
                               .values_list("build", "label").annotate(n=Count("pk"))):
        labelled[build_id][label] = n
    rows = []
    for b in builds:
        p, c = b.params or {}, b.counts or {}
        rows.append({
            "build": b.pk, "label": f"Build {b.pk}",
            "positive": labelled[b.pk].get(1, 0), "negative": labelled[b.pk].get(0, 0),
            "rejected_co_selected": c.get("rejected_co_selected", 0),
            "rejected_query_overlap": c.get("rejected_query_overlap", 0),
            "rejected_text_cosine": c.get("rejected_text_cosine", 0),
            "rejected_no_text": c.get("rejected_no_text", 0),
            "rules": (f"positive: selected together ≥ {p.get('min_positive', 2)}; "
                      f"negative: shown together ≥ {p.get('min_displayed', 2)}, "
                      f"query overlap < {p.get('max_query_overlap', 3)}, "
                      f"text cosine < {p.get('max_text_cosine', 0.7)}"),
        })
    return {"builds": rows, "series": [
        ("positive", "Positive"), ("negative", "Negative"),
        ("rejected_co_selected", "Rejected: selected together"),
        ("rejected_query_overlap", "Rejected: queries overlap"),
        ("rejected_text_cosine", "Rejected: query texts similar"),
        ("rejected_no_text", "Rejected: no query text")]}


def model_label(name: str) -> str:
    """An OpenCLIP name as is; a config or checkpoint path as its file name only."""
    if not name:
        return ""
    if "/" in name or "\\" in name:
        return PurePath(name.replace("\\", "/")).stem
    return name


def _scorer(key: str, metrics: dict, intervals: dict) -> dict[str, Any]:
    auc, f1 = intervals.get("roc_auc") or {}, intervals.get("f1") or {}
    return {"key": key, "label": SCORER_LABELS.get(key, key.replace("_", " ").capitalize()),
            "auc": _round(metrics.get("roc_auc")), "f1": _round(metrics.get("f1")),
            "auc_low": _round(auc.get("low")), "auc_high": _round(auc.get("high")),
            "f1_low": _round(f1.get("low")), "f1_high": _round(f1.get("high"))}


def _scorer_order(name: str) -> tuple:
    """The labels' order, then a-z: jsonb keeps no key order."""
    known = list(SCORER_LABELS)
    return (0, known.index(name), "") if name in known else (1, 0, name)


def snapshot_models(*, campaign: Campaign) -> list[dict[str, Any]]:
    """For each exported snapshot, its finished GSEs scored on its test split beside their
    base model and, when the run stored them, the surface baselines, with intervals."""
    out = []
    snapshots = Snapshot.objects.filter(campaign=campaign, status=Snapshot.Status.DONE)
    gses = (EncoderVersion.objects.filter(snapshot__in=snapshots, kind=EncoderVersion.Kind.GSE,
                                          status=EncoderVersion.Status.DONE)
            .order_by("snapshot__number", "created_at", "pk"))
    for gse in gses:
        metrics = gse.metrics or {}
        intervals = {k.lower() if k == "GSE" else k: v
                     for k, v in ((metrics.get("bootstrap") or {}).get("scorers") or {}).items()}
        scorers = [_scorer("gse", metrics.get("gse") or {}, intervals.get("gse") or {}),
                   _scorer("base", metrics.get("base") or {}, intervals.get("base") or {})]
        baselines = metrics.get("baselines") or {}
        scorers += [_scorer(name, baselines[name] or {}, intervals.get(name) or {})
                    for name in sorted(baselines, key=_scorer_order)]
        out.append({"snapshot": gse.snapshot.number, "version": gse.version,
                    "label": f"Snapshot {gse.snapshot.number} · {gse.version}",
                    "base_model": model_label(gse.model_name),
                    "scorers": scorers})
    return out


def campaign_dashboard(*, campaign: Campaign, annotators: list[dict]) -> dict[str, Any]:
    """Everything the dashboard's charts draw; ``annotators`` are the Annotators table's rows."""
    return {
        "activity": annotation_activity(campaign=campaign),
        "annotators": annotator_pace(annotators=annotators),
        "agreement": agreement_over_time(campaign=campaign),
        "pairs": pair_build_counts(campaign=campaign),
        "models": snapshot_models(campaign=campaign),
    }
