"""Pair builds: load a campaign's annotations as arrays, apply the rules, store the pairs.

Counting (decided here, see README "Pair builder"):
- a **displayed set** J ∪ {anchor} counts once per task that has at least one annotation (the
  paper's candidate set J_k^(t) is one per anchor and iteration; showing the same screen to a
  second annotator is not a second co-occurrence). Skips are not annotations: a task that was
  only skipped counts nothing.
- a **similar set** L ∪ {anchor} counts once per annotation: with ``annotators_per_task > 1``
  each annotator's judgement is an independent similar set.

Interruption safety: all Pair rows of a build are written in ONE transaction together with the
status flip to ``done``; a worker killed mid-write leaves nothing (the transaction rolls back)
and rerunning the task deletes any rows and redoes the build. The rules are deterministic, so
the same annotations always give the same pairs.

Sharding: when the displayed sets hold more pair occurrences than ``SHARD_OCCURRENCES``, the
pairs are partitioned into ranges of the smaller sticker index holding about that many each, and
each range is counted and labelled on its own inside the task (bounded memory), then the shards
are concatenated (``rules.pairs_label_sharded``; ``bench/bench_pairbuild.py`` runs the same).
"""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import Annotation, Campaign, Candidate, Query, Sticker, Task
from pairbuilder import rules
from pairbuilder.errors import PairBuildError
from pairbuilder.models import Pair, PairBuild
from pairbuilder.services.pair_copy import int_columns_copy_out, pairs_copy
from pairbuilder.text_embedding import text_embeddings, text_model_choose

logger = logging.getLogger(__name__)

# Pair rows per COPY: 500,000 rows are a 30 MB payload (62 bytes a row) and 1.5 M foreign-key
# checks queued in PostgreSQL until the COPY ends.
PAIR_COPY_ROWS = 500_000
# Pair occurrences counted at once; 50M int64 keys = 400 MB (+ the sort's scratch).
SHARD_OCCURRENCES = rules.SHARD_OCCURRENCES

DEFAULT_PARAMS = {"min_positive": 2, "min_displayed": 2, "max_query_overlap": 3,
                  "max_text_cosine": 0.7}


def pair_build_params(params: dict | None) -> dict:
    """Complete and check build parameters; errors name the field."""
    out = {**DEFAULT_PARAMS, **{k: v for k, v in (params or {}).items() if v is not None}}
    unknown = set(out) - set(DEFAULT_PARAMS) - {"text_model"}
    if unknown:
        raise PairBuildError("params", f"unknown parameter(s) {', '.join(sorted(unknown))}")
    for name in ("min_positive", "min_displayed", "max_query_overlap"):
        if int(out[name]) != out[name] or int(out[name]) < 1:
            raise PairBuildError(name, f"must be a whole number >= 1, got {out[name]!r}")
        out[name] = int(out[name])
    out["max_text_cosine"] = float(out["max_text_cosine"])
    out.setdefault("text_model", settings.TEXT_MODEL)
    return out


def pair_build_start(*, campaign: Campaign, params: dict | None = None) -> PairBuild:
    """Record a pair build and run it on the workers once the row is committed."""
    from pairbuilder.tasks import pair_build_task

    build = PairBuild.objects.create(campaign=campaign, params=pair_build_params(params))
    transaction.on_commit(lambda: pair_build_task.delay(build_id=build.id))
    return build


def pair_build_resume(*, build: PairBuild) -> PairBuild:
    """Run an unfinished (interrupted or failed) build again; a done build is left alone."""
    from pairbuilder.tasks import pair_build_task

    if build.status != PairBuild.Status.DONE:
        transaction.on_commit(lambda: pair_build_task.delay(build_id=build.id))
    return build


def _progress(build: PairBuild, value: float, **fields) -> None:
    """Commit a progress update (outside the result transaction, so the page can see it)."""
    build.progress = value
    for k, v in fields.items():
        setattr(build, k, v)
    PairBuild.objects.filter(pk=build.pk).update(progress=value, **fields)


def pair_build_run(*, build_id: int) -> PairBuild:
    """Compute and store the pairs of one build; safe to call again after a crash."""
    build = PairBuild.objects.select_related("campaign").get(pk=build_id)
    if build.status == PairBuild.Status.DONE:
        return build
    _progress(build, 0.0, status=PairBuild.Status.RUNNING, error="")
    try:
        result, sticker_pks, annotation_count = _compute(build)
        _write(build, result, sticker_pks, annotation_count)
    except Exception as exc:
        logger.exception("pair build %s failed", build_id)
        _progress(build, build.progress, status=PairBuild.Status.FAILED, error=str(exc)[:2000])
        raise
    return build


def _compute(build: PairBuild) -> tuple[rules.LabelledPairs, np.ndarray, int]:
    params = build.params
    loaded = campaign_sets_load(campaign=build.campaign)
    _progress(build, 0.2, annotation_count=loaded.annotation_count)
    n = len(loaded.sticker_pks)
    queries = _query_sets(loaded.sticker_pks)
    cosine = _cosine_callback(loaded.sticker_pks, _text_model(build))
    rule_params = rules.RuleParams(
        min_positive=params["min_positive"], min_displayed=params["min_displayed"],
        max_query_overlap=params["max_query_overlap"], max_text_cosine=params["max_text_cosine"])
    result = rules.pairs_label_sharded(
        displayed=loaded.displayed, similar=loaded.similar, queries=queries,
        text_cosine=cosine, n_stickers=n, params=rule_params,
        shard_occurrences=SHARD_OCCURRENCES,
        on_shard=lambda done, total: _progress(build, 0.2 + 0.5 * done / total))
    return result, loaded.sticker_pks, loaded.annotation_count


def _text_model(build: PairBuild) -> str:
    """The build's text model, loaded; where it cannot load and TEXT_MODEL_FALLBACK=offline
    (the demo), the offline one, recorded in the build's parameters with the reason."""
    asked = build.params.get("text_model_requested", build.params["text_model"])
    used, note = text_model_choose(asked, fallback=settings.TEXT_MODEL_FALLBACK == "offline")
    if note:
        build.params = {**build.params, "text_model": used, "text_model_requested": asked,
                        "text_model_note": note}
        PairBuild.objects.filter(pk=build.pk).update(params=build.params)
    return used


class CampaignSets:
    """A campaign's annotations as CSR sets over sticker indices (ordered by sticker_id)."""

    def __init__(self, sticker_pks: np.ndarray, displayed: rules.SetCollection,
                 similar: rules.SetCollection, annotation_count: int) -> None:
        self.sticker_pks = sticker_pks  # (N,) Sticker.pk of index i; sticker_id ascending
        self.displayed = displayed
        self.similar = similar
        self.annotation_count = annotation_count


def _int_rows(queryset, width: int) -> np.ndarray:
    """A ``values_list`` of ``width`` bigint columns as an (R, width) int64 array (one binary
    COPY: no Python tuple per row, ~44 M candidate rows at a million anchors)."""
    sql, params = queryset.query.sql_with_params()
    return int_columns_copy_out(sql, list(params), width)


def campaign_sets_load(*, campaign: Campaign) -> CampaignSets:
    """Read the displayed and similar sets with four flat queries, each one COPY."""
    ann = _int_rows(Annotation.objects.filter(task__campaign=campaign).order_by("id")
                    .values_list("id", "task_id"), 2)
    tasks = _int_rows(Task.objects.filter(campaign=campaign).order_by("id")
                      .values_list("id", "candidate_set_id", "anchor_id"), 3)
    cands = _int_rows(Candidate.objects.filter(candidate_set__campaign=campaign)
                      .values_list("candidate_set_id", "sticker_id"), 2)
    sel = _int_rows(Annotation.selected.through.objects
                    .filter(annotation__task__campaign=campaign)
                    .values_list("annotation_id", "sticker_id"), 2)
    annotated = np.unique(ann[:, 1])  # tasks with at least one annotation
    tasks = tasks[np.isin(tasks[:, 0], annotated)]
    # Displayed sets: one per annotated task = its candidates + its anchor.
    cands = cands[np.isin(cands[:, 0], tasks[:, 1])]
    by_cs = np.argsort(tasks[:, 1])  # candidate set -> task, vectorised
    cand_task = tasks[by_cs[np.searchsorted(tasks[by_cs, 1], cands[:, 0])], 0]
    d_group = np.concatenate([cand_task, tasks[:, 0]])
    d_member = np.concatenate([cands[:, 1], tasks[:, 2]])
    del cands, cand_task
    # Similar sets: one per annotation = its selection + its task's anchor.
    ann_anchor = tasks[np.searchsorted(tasks[:, 0], ann[:, 1]), 2]  # tasks sorted by id
    s_group = np.concatenate([sel[:, 0], ann[:, 0]])
    s_member = np.concatenate([sel[:, 1], ann_anchor])

    sticker_pks = _pks_by_sticker_id(np.unique(np.concatenate([d_member, s_member])))
    to_index = _index_map(sticker_pks)
    displayed = _csr(d_group, to_index(d_member), tasks[:, 0])
    similar = _csr(s_group, to_index(s_member), ann[:, 0])
    return CampaignSets(sticker_pks, displayed, similar, len(ann))


# Ids per ``= ANY(%s)`` array parameter: one parameter, so the query text stays short.
ID_ARRAY_SIZE = 100_000


def _pks_by_sticker_id(pks: np.ndarray) -> np.ndarray:
    """The pks reordered by sticker_id, so index order is file-name order (a < b in exports).
    Sorted here, not in SQL: Python compares code points, as the exports always have."""
    names: dict[int, str] = {}
    plist = pks.tolist()
    with connection.cursor() as cursor:
        for lo in range(0, len(plist), ID_ARRAY_SIZE):
            cursor.execute(f"SELECT id, sticker_id FROM {Sticker._meta.db_table} "
                           "WHERE id = ANY(%s)", [plist[lo:lo + ID_ARRAY_SIZE]])
            names.update(cursor.fetchall())
    return np.array(sorted(plist, key=names.__getitem__), dtype=np.int64)


def _index_map(sticker_pks: np.ndarray):
    order = np.argsort(sticker_pks)
    sorted_pks = sticker_pks[order]

    def to_index(pks: np.ndarray) -> np.ndarray:
        return order[np.searchsorted(sorted_pks, pks)].astype(np.int64)
    return to_index


def _csr(group: np.ndarray, member: np.ndarray, groups: np.ndarray) -> rules.SetCollection:
    """CSR sets, one per id in ``groups`` (in that order), members sorted and deduplicated."""
    pos = np.searchsorted(groups, group)  # groups are ascending ids
    width = np.int64(member.max() + 1) if len(member) else np.int64(1)
    keys = np.unique(pos * width + member)  # sorts by set, then member; drops duplicates
    offsets = np.searchsorted(keys // width, np.arange(len(groups) + 1))
    return rules.SetCollection(offsets.astype(np.int64), (keys % width).astype(np.int64))


def _query_sets(sticker_pks: np.ndarray) -> rules.SetCollection:
    """Q_i per sticker index as integer ids of the normalised query strings (all languages)."""
    index = {pk: i for i, pk in enumerate(sticker_pks.tolist())}
    vocabulary: dict[str, int] = {}
    owner: list[int] = []
    qid: list[int] = []
    plist = sticker_pks.tolist()
    with connection.cursor() as cursor:
        for lo in range(0, len(plist), ID_ARRAY_SIZE):
            cursor.execute(f"SELECT sticker_id, normalized FROM {Query._meta.db_table} "
                           "WHERE sticker_id = ANY(%s)", [plist[lo:lo + ID_ARRAY_SIZE]])
            for pk, text in cursor:
                owner.append(index[pk])
                qid.append(vocabulary.setdefault(text, len(vocabulary)))
    return _csr(np.array(owner, dtype=np.int64), np.array(qid, dtype=np.int64),
                np.arange(len(plist), dtype=np.int64))


def _cosine_callback(sticker_pks: np.ndarray, text_model: str) -> rules.TextCosine:
    """Text cosine computed lazily: only the stickers of the pairs asked about are embedded."""
    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        needed = np.unique(np.concatenate([a, b]))
        vectors = text_embeddings(sticker_pks=sticker_pks[needed].tolist(), text_model=text_model)
        dim = next((len(v) for v in vectors.values() if v is not None), 1)
        matrix = np.full((len(needed), dim), np.nan, dtype=np.float32)  # (U, D)
        for row, pk in enumerate(sticker_pks[needed].tolist()):
            if vectors[pk] is not None:
                matrix[row] = vectors[pk]
        return rules.cosine_from_vectors(matrix)(np.searchsorted(needed, a),
                                                 np.searchsorted(needed, b))
    return cosine


def _write(build: PairBuild, result: rules.LabelledPairs, sticker_pks: np.ndarray,
           annotation_count: int) -> None:
    """Replace the build's pairs and mark it done, all in one transaction."""
    with transaction.atomic():
        # The row lock serialises two deliveries of the same build: the second waits, then
        # sees "done" and writes nothing.
        if PairBuild.objects.select_for_update().get(pk=build.pk).status == "done":
            return
        Pair.objects.filter(build=build).delete()  # rows of an earlier, interrupted attempt
        with connection.cursor() as cursor:
            # The foreign keys are checked as each COPY ends, not queued to the commit: 54 M
            # rows x 3 keys of queued checks would hold over a GiB in the PostgreSQL backend
            # (measured: 9.6 M queued checks, ~70 MiB).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for lo in range(0, len(result), PAIR_COPY_ROWS):
            pairs_copy(build.pk, result, sticker_pks, slice(lo, lo + PAIR_COPY_ROWS))
        PairBuild.objects.filter(pk=build.pk).update(
            status=PairBuild.Status.DONE, progress=1.0, counts=result.counts,
            annotation_count=annotation_count, finished_at=timezone.now(), error="")
    build.refresh_from_db()
