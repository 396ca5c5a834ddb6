"""Snapshots: immutable, numbered Triple-S exports of a pair build.

Layout under ``SNAPSHOT_DIR/<number>/``: ``files/`` (``pairs_train.csv``, ``pairs_val.csv``,
``pairs_test.csv``, ``manifest.json``, ``stickers/<sticker_id>``) and
``snapshot-<number>.zip``. Nothing written depends on the time or the snapshot number, and
the zip has fixed timestamps and sorted entries, so the same build exported with the same
parameters twice is byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotation.models import Campaign, Sticker
from audit.models import AuditEvent
from audit.services import audit_record
from encoder.gse.scorable import split_class_problem
from pairbuilder.errors import PairBuildError
from pairbuilder.models import PairBuild, Snapshot
from pairbuilder.services.pairs_io import (
    TRIPLE_S_HEADER,
    build_latest,
    build_pair_rows,
    review_decisions,
)
from pairbuilder.split import SPLITS, split_by_sticker

SPLIT_FILES = {"train": "pairs_train.csv", "val": "pairs_val.csv", "test": "pairs_test.csv"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: fixed so archives are stable


def snapshot_params(*, include_unreviewed: bool, ratios=(0.8, 0.1, 0.1), seed: int = 0) -> dict:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or min(ratios) < 0 or sum(ratios) <= 0:
        raise PairBuildError("ratios", f"need three non-negative numbers, got {ratios}")
    return {"include_unreviewed": bool(include_unreviewed), "ratios": list(ratios),
            "seed": int(seed), "split_method": "connected components, largest cut breadth-first"}


def snapshot_start(*, campaign: Campaign, build: PairBuild | None = None,
                   include_unreviewed: bool | None = None, ratios=(0.8, 0.1, 0.1),
                   seed: int = 0, actor: AbstractBaseUser | None = None) -> Snapshot:
    """Number a snapshot and write it on the workers once the row is committed."""
    from pairbuilder.tasks import snapshot_task

    snapshot = _snapshot_number(campaign=campaign, build=build, actor=actor,
                                include_unreviewed=include_unreviewed, ratios=ratios, seed=seed)
    transaction.on_commit(lambda: snapshot_task.delay(snapshot_id=snapshot.id))
    return snapshot


def _snapshot_number(*, campaign: Campaign, build: PairBuild | None,
                     include_unreviewed: bool | None, ratios, seed: int,
                     actor: AbstractBaseUser | None = None) -> Snapshot:
    """The pending Snapshot row with the next global number."""
    build = build or build_latest(campaign=campaign)
    if build.campaign_id != campaign.id or build.status != PairBuild.Status.DONE:
        raise PairBuildError(campaign.name, f"build {build.id} is not a finished build of it")
    if include_unreviewed is None:
        include_unreviewed = campaign.snapshot_include_unreviewed
    params = snapshot_params(include_unreviewed=include_unreviewed, ratios=ratios, seed=seed)
    for _ in range(5):  # two exports at once may race for the next number
        try:
            with transaction.atomic():
                number = (Snapshot.objects.aggregate(m=Max("number"))["m"] or 0) + 1
                snapshot = Snapshot.objects.create(number=number, campaign=campaign,
                                                   build=build, params=params)
                audit_record(action=AuditEvent.Action.SNAPSHOT_START, actor=actor,
                             campaign=campaign, target=f"snapshot {number} of build {build.id}",
                             details={"snapshot": number, "build": build.id, **params})
            break
        except IntegrityError:
            continue
    else:
        raise PairBuildError(campaign.name, "could not number the snapshot; try again")
    return snapshot


def snapshot_create(*, campaign: Campaign, build: PairBuild | None = None,
                    include_unreviewed: bool | None = None, ratios=(0.8, 0.1, 0.1),
                    seed: int = 0, actor: AbstractBaseUser | None = None) -> Snapshot:
    """Number and write a snapshot now, in this process (management command, tests)."""
    snapshot = _snapshot_number(campaign=campaign, build=build, actor=actor,
                                include_unreviewed=include_unreviewed, ratios=ratios, seed=seed)
    return snapshot_run(snapshot_id=snapshot.id)


def snapshot_run(*, snapshot_id: int) -> Snapshot:
    """Write the files of a pending snapshot; a written snapshot is never touched again."""
    snapshot = Snapshot.objects.select_related("build", "campaign").get(pk=snapshot_id)
    if snapshot.status == Snapshot.Status.DONE:
        return snapshot
    folder = Path(settings.SNAPSHOT_DIR) / str(snapshot.number)
    try:
        if folder.exists():
            shutil.rmtree(folder)  # leftovers of an interrupted attempt at this number
        files = folder / "files"
        manifest = _write_files(snapshot, files)
        archive = folder / f"snapshot-{snapshot.number}.zip"
        _zip_folder(files, archive)
    except Exception as exc:
        Snapshot.objects.filter(pk=snapshot.pk).update(status=Snapshot.Status.FAILED,
                                                      error=str(exc)[:2000])
        raise
    Snapshot.objects.filter(pk=snapshot.pk).update(
        status=Snapshot.Status.DONE, path=str(files), archive=str(archive), manifest=manifest)
    snapshot.refresh_from_db()
    from encoder.training_services import gse_train_on_export  # encoder depends on us

    gse_train_on_export(snapshot=snapshot)
    return snapshot


def _selected_pairs(snapshot: Snapshot) -> list[tuple[str, str, int]]:
    """Accepted pairs, plus unreviewed ones when asked; rejected pairs never."""
    decisions = review_decisions(campaign=snapshot.build.campaign)
    include_unreviewed = snapshot.params["include_unreviewed"]
    out = []
    for a, b, name_a, name_b, y, *_ in build_pair_rows(build=snapshot.build).iterator(
            chunk_size=10000):
        decision = decisions.get((a, b, y))
        if decision == "accept" or (decision is None and include_unreviewed):
            out.append((name_a, name_b, y))
    return out


def _write_files(snapshot: Snapshot, files: Path) -> dict:
    pairs = _selected_pairs(snapshot)
    names = sorted({n for p in pairs for n in p[:2]})
    index = {n: i for i, n in enumerate(names)}
    a = np.array([index[p[0]] for p in pairs], dtype=np.int64)
    b = np.array([index[p[1]] for p in pairs], dtype=np.int64)
    params = snapshot.params
    split = split_by_sticker(a, b, len(names), tuple(params["ratios"]), params["seed"])
    (files / "stickers").mkdir(parents=True)
    checksums: dict[str, str] = {}
    splits: dict[str, dict] = {}
    for k, name in enumerate(SPLITS):
        rows = [p for p, s in zip(pairs, split.pair_split.tolist(), strict=True) if s == k]
        body = io.StringIO()
        writer = csv.writer(body, lineterminator="\n")
        writer.writerow(TRIPLE_S_HEADER)
        writer.writerows(rows)
        checksums[SPLIT_FILES[name]] = _write(files / SPLIT_FILES[name], body.getvalue().encode())
        positives = sum(r[2] for r in rows)
        splits[name] = {"pairs": len(rows), "stickers": len({n for r in rows for n in r[:2]}),
                        "positive": positives, "negative": len(rows) - positives}
    warnings = split_warnings(splits, snapshot.build.counts or {})
    stickers = {}
    for sticker in Sticker.objects.filter(sticker_id__in=names).order_by("sticker_id"):
        stickers[sticker.sticker_id] = sticker.content_hash
        data = _sticker_bytes(sticker)
        if data is not None:
            checksums[f"stickers/{sticker.sticker_id}"] = _write(
                files / "stickers" / sticker.sticker_id, data)
    build = snapshot.build
    manifest = {
        "format": "triple-s",
        "campaign": snapshot.campaign.name,
        "build": {"params": build.params, "counts": build.counts,
                  "annotation_count": build.annotation_count},
        "split": {**params, "dropped_cross_split_pairs": split.dropped,
                  "selected_pairs": len(pairs)},
        "splits": splits,
        "total": {"pairs": sum(s["pairs"] for s in splits.values()),
                  "stickers": int((split.sticker_split >= 0).sum()),
                  "positive": sum(s["positive"] for s in splits.values()),
                  "negative": sum(s["negative"] for s in splits.values())},
        "sticker_content_sha256": stickers,
        "stickers_without_file": sorted(set(stickers) - {k[9:] for k in checksums
                                                         if k.startswith("stickers/")}),
        "files_sha256": dict(sorted(checksums.items())),
        "warnings": warnings,
    }
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    (files / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def split_warnings(splits: dict[str, dict], build_counts: dict) -> list[str]:
    """One sentence per split that lacks positives or negatives (it cannot be scored), with
    the pair build's own count of negative candidates lost for want of queries, if any."""
    out = []
    for name, split in splits.items():
        labels = [1] * split["positive"] + [0] * split["negative"]
        problem = split_class_problem(name, labels)
        if problem is None:
            continue
        no_text = int(build_counts.get("rejected_no_text", 0))
        if split["negative"] == 0 and no_text:
            problem += (f" (this build rejected {no_text} negative candidates because a "
                        "sticker had no queries)")
        out.append(problem)
    return out


def _sticker_bytes(sticker: Sticker) -> bytes | None:
    """The sticker's original file, or None when the library has no file for it."""
    if not sticker.file:
        return None
    try:
        with sticker.file.open("rb") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _zip_folder(folder: Path, archive: Path) -> None:
    """A deterministic zip: sorted entries, fixed timestamps and permissions."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
