"""Reads for the pair builder: what the campaign page and the review queue show."""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef

from annotation.models import Campaign, Sticker
from pairbuilder.models import Pair, PairBuild, PairReview, Snapshot

PANEL_BUILDS = 5  # builds listed on the campaign page
PANEL_SNAPSHOTS = 10


def build_summary(build: PairBuild) -> dict:
    """A build as the page and the API show it."""
    return {"id": build.id, "status": build.status, "progress": round(build.progress, 3),
            "params": build.params, "counts": build.counts,
            "annotation_count": build.annotation_count, "error": build.error,
            "created_at": build.created_at.isoformat(),
            "finished_at": build.finished_at.isoformat() if build.finished_at else None,
            "imported": bool(build.params.get("imported"))}


def snapshot_summary(snapshot: Snapshot) -> dict:
    splits, dropped = snapshot.summary.get("splits", {}), snapshot.summary.get("dropped")
    return {"number": snapshot.number, "build_id": snapshot.build_id, "status": snapshot.status,
            "params": snapshot.params, "splits": splits, "error": snapshot.error,
            "created_at": snapshot.created_at.isoformat(), "dropped": dropped}


def snapshots_without_manifest(campaign: Campaign):
    """The campaign's snapshots without their manifests (the summary holds what the page
    shows): a manifest lists every sticker's content hash (~70 MB at 1,000,000 stickers), and
    even one key of it is read by reading it all (0.45 s a snapshot there: issue 14)."""
    return campaign.snapshots.order_by("-number").defer("manifest")


def pair_counts(build_ids: list[int]) -> dict[int, dict[int, int]]:
    """Pairs per build and label ({build: {1: positives, 0: negatives}}), from the counts the
    database keeps beside the pair rows (migration pairbuilder 0003): an index read, where
    counting the rows read millions of index entries (1.7 s at 23,000,000 pairs)."""
    out: dict[int, dict[int, int]] = {b: {} for b in build_ids}
    if not build_ids:
        return out
    with connection.cursor() as cur:
        cur.execute("SELECT build_id, label, pairs FROM pairbuilder_pair_counts "
                    "WHERE build_id = ANY(%s)", [list(build_ids)])
        for build_id, label, pairs in cur.fetchall():
            out[build_id][label] = pairs
    return out


def snapshot_latest(*, campaign: Campaign) -> Snapshot | None:
    """The campaign's newest exported snapshot: the one meaning of "latest snapshot" (the
    campaign page's Train button, the training API and ``train_gse`` all read it here)."""
    # The manifest (every sticker's hash) is read only by the callers that use it.
    return (Snapshot.objects.filter(campaign=campaign, status=Snapshot.Status.DONE)
            .defer("manifest").order_by("-number").first())


def campaign_panel(*, campaign: Campaign) -> dict:
    """Context for the campaign page's pair-build and snapshot panel (namespaced keys)."""
    builds = list(campaign.pair_builds.order_by("-id")[:PANEL_BUILDS])
    latest_done = next((b for b in builds if b.status == PairBuild.Status.DONE), None) or \
        campaign.pair_builds.filter(status=PairBuild.Status.DONE).order_by("-id").first()
    return {
        "pair_builds": [build_summary(b) for b in builds],
        "pair_build_latest": build_summary(latest_done) if latest_done else None,
        "pair_reviews_count": PairReview.objects.filter(campaign=campaign).count(),
        "snapshots": [snapshot_summary(s)
                      for s in snapshots_without_manifest(campaign)[:PANEL_SNAPSHOTS]],
    }


def _sticker_out(sticker: Sticker) -> dict:
    return {"sticker_id": sticker.sticker_id, "url": sticker.file.url if sticker.file else "",
            "media_type": sticker.media_type, "is_animated": sticker.is_animated}


def review_queue(*, build: PairBuild, only_unreviewed: bool = False, label: int | None = None,
                 offset: int = 0, limit: int = 50) -> dict:
    """One page of a build's pairs for the review page, each with its current decision."""
    pairs = Pair.objects.filter(build=build).select_related("sticker_a", "sticker_b").order_by(
        "sticker_a__sticker_id", "sticker_b__sticker_id")
    if label is not None:
        pairs = pairs.filter(label=label)
    reviews = PairReview.objects.filter(campaign_id=build.campaign_id)
    if only_unreviewed:
        # A pair is reviewed when a decision exists for its stickers and its current label:
        # an anti-join on the review's unique key, in the database (builds hold millions).
        pairs = pairs.filter(~Exists(reviews.filter(
            sticker_a=OuterRef("sticker_a"), sticker_b=OuterRef("sticker_b"),
            label=OuterRef("label"))))
    total = pairs.count()
    page = list(pairs[offset:offset + limit])
    decisions = {(r.sticker_a_id, r.sticker_b_id, r.label): r for r in reviews.filter(
        sticker_a__in=[p.sticker_a_id for p in page]).select_related("reviewer")}
    rows = []
    for p in page:
        r = decisions.get((p.sticker_a_id, p.sticker_b_id, p.label))
        rows.append({
            "id": p.id, "label": p.label, "co_selected": p.co_selected,
            "co_displayed": p.co_displayed, "query_overlap": p.query_overlap,
            "text_cosine": p.text_cosine, "a": _sticker_out(p.sticker_a),
            "b": _sticker_out(p.sticker_b),
            "review": None if r is None else {
                "decision": r.decision, "reviewer": r.reviewer.get_username(),
                "decided_at": r.decided_at.isoformat()},
        })
    return {"build_id": build.id, "total": total, "offset": offset, "pairs": rows}
