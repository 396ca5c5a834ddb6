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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from annotation.models import Campaign, Sticker
from audit.models import AuditEvent
from audit.services import audit_record
from encoder.gse.scorable import split_class_problem
from pairbuilder.errors import PairBuildError
from pairbuilder.models import Pair, PairBuild, Snapshot
from pairbuilder.services.pair_copy import int_columns_copy_out
from pairbuilder.services.pairs_io import TRIPLE_S_HEADER, build_latest, review_decisions
from pairbuilder.split import SPLITS, split_by_sticker

SPLIT_FILES = {"train": "pairs_train.csv", "val": "pairs_val.csv", "test": "pairs_test.csv"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: fixed so archives are stable
# Pair rows per CSV write: 100,000 rows are a few MB of text.
CSV_BATCH = 100_000
# Stickers per query for their files: 5,000 names in one IN list.
STICKER_BATCH = 5_000


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


def manifest_summary(manifest: dict) -> dict:
    """The manifest's figures the pages show (kept beside it: the manifest is large)."""
    return {"splits": manifest.get("splits", {}),
            "dropped": (manifest.get("split") or {}).get("dropped_cross_split_pairs")}


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
        status=Snapshot.Status.DONE, path=str(files), archive=str(archive), manifest=manifest,
        summary=manifest_summary(manifest))
    snapshot.refresh_from_db()
    from encoder.training_services import gse_train_on_export  # encoder depends on us

    gse_train_on_export(snapshot=snapshot)
    return snapshot


@dataclass
class SelectedPairs:
    """The pairs a snapshot takes, as arrays in export order ((sticker_id, sticker_id_2) as
    the database sorts them): no Python object per pair (54 M pairs at a million anchors)."""

    names: list[str]  # sticker_id of each index, sorted
    a: np.ndarray  # (P,) int64 index into names
    b: np.ndarray  # (P,) int64
    label: np.ndarray  # (P,) int64


def _selected_pairs(snapshot: Snapshot) -> SelectedPairs:
    """Accepted pairs, plus unreviewed ones when asked; rejected pairs never."""
    pairs = int_columns_copy_out(
        f"SELECT sticker_a_id, sticker_b_id, label::bigint FROM {Pair._meta.db_table} "
        "WHERE build_id = %s", [snapshot.build_id], 3)  # (P, 3)
    decisions = review_decisions(campaign=snapshot.build.campaign)
    accepted = _decided(pairs, {k for k, d in decisions.items() if d == "accept"})
    if snapshot.params["include_unreviewed"]:
        accepted |= ~_decided(pairs, set(decisions))
    pairs = pairs[accepted]
    pks = np.unique(pairs[:, :2])
    by_db = _stickers_in_database_order(pks)  # (pk, sticker_id) in the database's order
    rank = np.empty(len(pks), dtype=np.int64)  # position of each pk in that order
    rank[np.searchsorted(pks, np.array([pk for pk, _ in by_db], dtype=np.int64))] = np.arange(
        len(by_db))
    name_of = dict(by_db)
    names = sorted(name_of.values())
    index = {n: i for i, n in enumerate(names)}
    py_index = np.array([index[name_of[pk]] for pk in pks.tolist()], dtype=np.int64)
    a, b = np.searchsorted(pks, pairs[:, 0]), np.searchsorted(pks, pairs[:, 1])
    order = np.lexsort((rank[b], rank[a]))
    return SelectedPairs(names, py_index[a[order]], py_index[b[order]], pairs[order, 2])


def _decided(pairs: np.ndarray, keys: set[tuple[int, int, int]]) -> np.ndarray:
    """(P,) bool: which (sticker_a pk, sticker_b pk, label) rows are in ``keys`` (the few
    reviewed pairs): rows whose first sticker has a review are checked one by one."""
    out = np.zeros(len(pairs), dtype=bool)
    maybe = np.flatnonzero(np.isin(pairs[:, 0], np.array([k[0] for k in keys],
                                                         dtype=np.int64)))
    for i in maybe.tolist():
        out[i] = tuple(pairs[i].tolist()) in keys
    return out


def _stickers_in_database_order(pks: np.ndarray) -> list[tuple[int, str]]:
    """(pk, sticker_id) of these stickers, ordered by sticker_id as the database's collation
    sorts it (the order the CSV rows always had), in one query with one array parameter. Not
    ``builds._pks_by_sticker_id``: that orders the build's sticker indices by code point."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, sticker_id FROM {Sticker._meta.db_table} "
                       "WHERE id = ANY(%s) ORDER BY sticker_id", [pks.tolist()])
        return cursor.fetchall()


def _write_files(snapshot: Snapshot, files: Path) -> dict:
    pairs = _selected_pairs(snapshot)
    names = pairs.names
    params = snapshot.params
    split = split_by_sticker(pairs.a, pairs.b, len(names), tuple(params["ratios"]),
                             params["seed"])
    (files / "stickers").mkdir(parents=True)
    checksums: dict[str, str] = {}
    splits: dict[str, dict] = {}
    for k, name in enumerate(SPLITS):
        rows = np.flatnonzero(split.pair_split == k)
        checksums[SPLIT_FILES[name]] = _write_split(files / SPLIT_FILES[name], pairs, rows)
        positives = int(pairs.label[rows].sum())
        splits[name] = {"pairs": len(rows),
                        "stickers": len(np.unique(np.concatenate([pairs.a[rows],
                                                                  pairs.b[rows]]))),
                        "positive": positives, "negative": len(rows) - positives}
    warnings = split_warnings(splits, snapshot.build.counts or {})
    stickers = {}
    for lo in range(0, len(names), STICKER_BATCH):
        for sticker in Sticker.objects.filter(sticker_id__in=names[lo:lo + STICKER_BATCH]):
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
                  "selected_pairs": len(pairs.a)},
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


def _write_split(path: Path, pairs: SelectedPairs, rows: np.ndarray) -> str:
    """One split's CSV (the Triple-S header, then ``sticker_id,sticker_id_2,label`` of
    ``rows`` in order), written and hashed ``CSV_BATCH`` rows at a time; its sha256."""
    digest = hashlib.sha256()
    names = pairs.names
    with path.open("wb") as fh:
        for lo in range(0, len(rows) + 1, CSV_BATCH):
            body = io.StringIO()
            writer = csv.writer(body, lineterminator="\n")
            if lo == 0:
                writer.writerow(TRIPLE_S_HEADER)
            part = rows[lo:lo + CSV_BATCH]
            writer.writerows(zip([names[i] for i in pairs.a[part].tolist()],
                                 [names[i] for i in pairs.b[part].tolist()],
                                 pairs.label[part].tolist(), strict=True))
            data = body.getvalue().encode()
            fh.write(data)
            digest.update(data)
    return digest.hexdigest()


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
