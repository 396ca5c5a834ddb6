"""Review decisions, the pair CSV export and the import of published Triple-S pair files."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.models import Campaign, Sticker
from audit.models import AuditEvent
from audit.services import audit_record
from pairbuilder.errors import PairBuildError
from pairbuilder.models import Pair, PairBuild, PairReview

EXPORT_HEADER = ["sticker_id", "sticker_id_2", "label", "co_selected", "co_displayed",
                 "query_overlap", "text_cosine", "review"]
TRIPLE_S_HEADER = ["sticker_id", "sticker_id_2", "label"]


def pair_review_decide(*, campaign: Campaign, pair: Pair, decision: str,
                       reviewer: AbstractBaseUser) -> PairReview:
    """Record (or change) a curator's decision on a pair's label, with who and when.

    Keyed by (campaign, a, b, label), so a later build that gives the pair the same label
    shows the same decision, and one that flips the label asks for a new one.
    """
    if decision not in PairReview.Decision.values:
        raise PairBuildError("decision", f"must be accept or reject, got {decision!r}")
    if pair.build.campaign_id != campaign.id:
        raise PairBuildError("pair", f"pair {pair.id} is not from campaign {campaign.name}")
    with transaction.atomic():
        key = {"campaign": campaign, "sticker_a_id": pair.sticker_a_id,
               "sticker_b_id": pair.sticker_b_id, "label": pair.label}
        earlier = PairReview.objects.select_for_update().filter(**key).select_related(
            "reviewer").first()
        review, _ = PairReview.objects.update_or_create(
            **key, defaults={"decision": decision, "reviewer": reviewer,
                             "decided_at": timezone.now()})
        # The review row holds the current decision; the audit trail keeps every one.
        audit_record(
            action=AuditEvent.Action.REVIEW, actor=reviewer, campaign=campaign,
            target=f"pair {pair.id} (sticker {pair.sticker_a_id} / {pair.sticker_b_id}, "
                   f"label {pair.label})",
            details={"decision": decision, "build": pair.build_id,
                     "previous": None if earlier is None else {
                         "decision": earlier.decision,
                         "reviewer": earlier.reviewer.get_username(),
                         "decided_at": earlier.decided_at.isoformat()}})
    return review


def review_decisions(*, campaign: Campaign) -> dict[tuple[int, int, int], str]:
    """(sticker_a pk, sticker_b pk, label) -> decision, for one campaign."""
    return {(a, b, y): d for a, b, y, d in PairReview.objects.filter(campaign=campaign)
            .values_list("sticker_a_id", "sticker_b_id", "label", "decision")}


def build_latest(*, campaign: Campaign) -> PairBuild:
    """The campaign's latest finished build; an error naming the campaign if none."""
    build = campaign.pair_builds.filter(status=PairBuild.Status.DONE).order_by("-id").first()
    if build is None:
        raise PairBuildError(campaign.name, "no finished pair build: run build_pairs first")
    return build


def build_pair_rows(*, build: PairBuild):
    """The build's pairs as tuples ordered by (sticker_id, sticker_id_2): ids are file names."""
    return (Pair.objects.filter(build=build)
            .order_by("sticker_a__sticker_id", "sticker_b__sticker_id")
            .values_list("sticker_a_id", "sticker_b_id", "sticker_a__sticker_id",
                         "sticker_b__sticker_id", "label", "co_selected", "co_displayed",
                         "query_overlap", "text_cosine"))


def pairs_export_csv(*, campaign: Campaign, out_path: Path, build: PairBuild | None = None,
                     actor: AbstractBaseUser | None = None) -> int:
    """Write every pair of the (latest) build with evidence and review; returns the count."""
    build = build or build_latest(campaign=campaign)
    decisions = review_decisions(campaign=build.campaign)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(EXPORT_HEADER)
        for a, b, name_a, name_b, y, s, d, q, c in build_pair_rows(build=build).iterator(
                chunk_size=10000):
            writer.writerow([name_a, name_b, y, s, d, q, "" if c is None else f"{c:.6f}",
                             decisions.get((a, b, y), "")])
            count += 1
    audit_record(action=AuditEvent.Action.EXPORT, actor=actor, campaign=campaign,
                 target=f"pairs of build {build.id} to {out_path.name}",
                 details={"build": build.id, "pairs": count, "path": str(out_path)})
    return count


@dataclass
class PairImportReport:
    build: PairBuild | None = None
    rows: int = 0
    imported: int = 0
    unknown: list[str] = field(default_factory=list)  # "row N: unknown sticker id X"
    problems: list[str] = field(default_factory=list)


def pairs_import(*, csv_path: Path, campaign_name: str | None = None,
                 actor: AbstractBaseUser | None = None) -> PairImportReport:
    """Read a published Triple-S pair file into a done PairBuild marked ``imported``.

    The pairs live in a campaign of their own (default ``imported:<file name>``) so they can be
    listed, exported, reviewed and snapshotted like a campaign's, and compared pair by pair with
    a campaign's build. Rows naming a sticker not in the library are reported and skipped.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise PairBuildError(str(csv_path), "no such file")
    data = csv_path.read_bytes()
    report = PairImportReport()
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    if not rows or [c.strip() for c in rows[0]] != TRIPLE_S_HEADER:
        raise PairBuildError(csv_path.name, f"header must be {','.join(TRIPLE_S_HEADER)}")
    names = {n.strip() for r in rows[1:] for n in r[:2]}
    pks = dict(Sticker.objects.filter(sticker_id__in=names).values_list("sticker_id", "pk"))
    pairs: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        report.rows += 1
        if len(row) != 3 or row[2].strip() not in ("0", "1"):
            report.problems.append(f"row {number}: expected sticker_id,sticker_id_2,label 0/1")
            continue
        x, y = sorted((row[0].strip(), row[1].strip()))
        missing = [n for n in (x, y) if n not in pks]
        if missing:
            report.unknown.append(f"row {number}: unknown sticker id {missing[0]!r}")
            continue
        if x == y or (x, y) in pairs:
            report.problems.append(f"row {number}: self pair or duplicate pair skipped")
            continue
        pairs[(x, y)] = int(row[2])
    with transaction.atomic():
        campaign, _ = Campaign.objects.get_or_create(
            name=campaign_name or f"imported:{csv_path.name}",
            defaults={"description": f"pairs imported from {csv_path.name}"})
        build = PairBuild.objects.create(
            campaign=campaign, status=PairBuild.Status.DONE, progress=1.0,
            finished_at=timezone.now(),
            params={"imported": True, "source_file": csv_path.name,
                    "source_sha256": hashlib.sha256(data).hexdigest()},
            counts={"positive": sum(pairs.values()),
                    "negative": len(pairs) - sum(pairs.values()),
                    "unknown_rows": len(report.unknown), "problem_rows": len(report.problems)})
        Pair.objects.bulk_create(
            [Pair(build=build, sticker_a_id=pks[x], sticker_b_id=pks[y], label=label,
                  co_selected=0, co_displayed=0, query_overlap=0, text_cosine=None)
             for (x, y), label in sorted(pairs.items())], batch_size=5000)
        audit_record(action=AuditEvent.Action.IMPORT, actor=actor, campaign=campaign,
                     target=f"pairs from {csv_path.name} as build {build.id}",
                     details={"file": csv_path.name, "sha256": build.params["source_sha256"],
                              "pairs": len(pairs), "skipped": report.rows - len(pairs)})
    report.build, report.imported = build, len(pairs)
    return report


def builds_compare(*, build: PairBuild, other: PairBuild) -> dict[str, int]:
    """How two builds (e.g. a campaign's and an imported benchmark) agree, pair by pair."""
    def labels(b: PairBuild) -> dict[tuple[int, int], int]:
        return {(x, y): lab for x, y, lab in
                Pair.objects.filter(build=b).values_list("sticker_a_id", "sticker_b_id", "label")}
    mine, theirs = labels(build), labels(other)
    shared = mine.keys() & theirs.keys()
    return {"pairs": len(mine), "other_pairs": len(theirs), "shared": len(shared),
            "same_label": sum(mine[p] == theirs[p] for p in shared),
            "only_here": len(mine.keys() - theirs.keys()),
            "only_other": len(theirs.keys() - mine.keys())}
