"""Pairs per build and label (migration pairbuilder 0003) against a direct count of the pair
rows, and their rebuild: the same proof and repair ``manage.py campaign_counts`` gives the
campaign page's other counts (``annotation.services.campaign_counts``)."""

from __future__ import annotations

from django.db import connection, transaction

from annotation.models import Campaign
from annotation.services.campaign_counts import CountMismatch

LABEL_NAMES = {1: "positive pairs", 0: "negative pairs"}

# One row per (build, label) whose kept figure differs from the rows: (campaign id or NULL for
# a row whose build is gone, build id, label, kept, direct). One statement: one snapshot.
CHECK_SQL = """
WITH scope AS (
  SELECT id, campaign_id FROM pairbuilder_pairbuild
  WHERE %(campaign)s::bigint IS NULL OR campaign_id = %(campaign)s),
kept AS (
  SELECT c.build_id, c.label, c.pairs FROM pairbuilder_pair_counts c
  LEFT JOIN pairbuilder_pairbuild b ON b.id = c.build_id
  WHERE c.build_id IN (SELECT id FROM scope)
     OR (b.id IS NULL AND %(campaign)s::bigint IS NULL)),
direct AS (
  SELECT build_id, label, count(*) AS pairs FROM pairbuilder_pair
  WHERE build_id IN (SELECT id FROM scope) GROUP BY 1, 2)
SELECT s.campaign_id, coalesce(k.build_id, d.build_id), coalesce(k.label, d.label),
       coalesce(k.pairs, 0), coalesce(d.pairs, 0)
FROM kept k FULL JOIN direct d USING (build_id, label)
LEFT JOIN scope s ON s.id = coalesce(k.build_id, d.build_id)
WHERE coalesce(k.pairs, 0) <> coalesce(d.pairs, 0)
ORDER BY 2, 3
"""

# Holds off pair writers (a build's COPY, a review's update) until the transaction ends, so
# the counts written are those of the rows at commit.
REBUILD_SQL = """
LOCK TABLE pairbuilder_pair IN SHARE MODE;
DELETE FROM pairbuilder_pair_counts
WHERE %(campaign)s::bigint IS NULL
   OR build_id IN (SELECT id FROM pairbuilder_pairbuild WHERE campaign_id = %(campaign)s);
INSERT INTO pairbuilder_pair_counts (build_id, label, pairs)
SELECT p.build_id, p.label, count(*) FROM pairbuilder_pair p
JOIN pairbuilder_pairbuild b ON b.id = p.build_id
WHERE %(campaign)s::bigint IS NULL OR b.campaign_id = %(campaign)s
GROUP BY 1, 2;
"""


def pair_counts_check(*, campaign: Campaign | None = None) -> list[CountMismatch]:
    """Every kept pair count of ``campaign``'s builds (None: of every build, and rows whose
    build is gone) that differs from a direct count of the pair rows; empty when all agree."""
    with connection.cursor() as cur:
        cur.execute(CHECK_SQL, {"campaign": campaign.pk if campaign else None})
        rows = cur.fetchall()
    names = dict(Campaign.objects.filter(pk__in={r[0] for r in rows if r[0]})
                 .values_list("pk", "name"))
    return [CountMismatch(names.get(cid, "(build gone)"),
                          f"build {build_id}", LABEL_NAMES.get(label, f"label {label} pairs"),
                          str(kept), str(direct))
            for cid, build_id, label, kept, direct in rows]


def pair_counts_rebuild(*, campaign: Campaign | None = None) -> None:
    """Rewrites the pair counts of ``campaign``'s builds (None: of every build) from the pair
    rows, holding off pair writers until the transaction ends."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(REBUILD_SQL, {"campaign": campaign.pk if campaign else None})
