"""The loop closed end to end, inline on CPU: demo library -> iteration-1 candidates ->
annotations -> pair build -> snapshot -> ``train_gse`` -> registered GSE -> activated for the
campaign -> iteration-2 candidate sets retrieved with the new model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import CandidateSet, Sticker, Task
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import candidate_sets_build
from annotation.services.queries import queries_import
from annotation.services.stickers import stickers_import
from encoder.embedding_services import stickers_embed
from encoder.models import EncoderVersion
from encoder.training_services import encoder_activate_for_campaign
from pairbuilder.models import PairBuild
from pairbuilder.services.builds import pair_build_run, pair_build_start
from pairbuilder.services.snapshots import snapshot_create
from tests.pairbuilder.helpers import annotate, user_make

DEMO = Path(__file__).resolve().parents[2] / "demo"
CONCEPTS = 30  # 60 stickers: two static styles of 30 concepts (seconds on CPU)


def _demo_subset() -> dict[str, str]:
    """sticker_id -> concept for the first concepts drawn as static PNG in both styles."""
    with (DEMO / "concepts.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["animation"] == "none"]
    by_concept: dict[str, list[str]] = {}
    for r in rows:
        by_concept.setdefault(r["concept"], []).append(r["sticker_id"])
    chosen = [c for c in sorted(by_concept) if len(by_concept[c]) == 2][:CONCEPTS]
    return {sid: c for c in chosen for sid in by_concept[c]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.django_db(transaction=True)
def test_annotations_to_iteration_two_candidates_from_the_retrained_gse(
    tiny_version, tiny_openclip, settings, tmp_path,
):
    assert (DEMO / "concepts.csv").is_file(), f"the demo library is committed under {DEMO}"
    settings.GSE_MODELS_DIR = tmp_path / "models"
    settings.SNAPSHOT_DIR = tmp_path / "snapshots"
    # given a library of 60 demo stickers with their CLDR queries
    concept_of = _demo_subset()
    stickers_import(paths=[DEMO / "stickers" / sid for sid in concept_of])
    queries_import(csv_path=DEMO / "queries_en.csv", language="en")
    assert Sticker.objects.count() == 2 * CONCEPTS
    # and a campaign whose iteration 1 retrieves 30 candidates with the base encoder
    campaign = campaign_create(name="loop", candidate_count=30,
                               encoder_version=tiny_version.version,
                               iteration2_source="retrained", snapshot_include_unreviewed=True)
    stickers_embed(encoder_version=tiny_version)
    assert candidate_sets_build(campaign=campaign, iteration=1) == 2 * CONCEPTS
    # when annotators select the candidates of the anchor's concept (the ground truth)
    annotators = [user_make("ann1"), user_make("ann2")]
    for n, task in enumerate(Task.objects.filter(campaign=campaign, iteration=1)
                             .select_related("anchor", "candidate_set")):
        same = [c.sticker for c in task.candidate_set.candidates.select_related("sticker")
                if concept_of[c.sticker.sticker_id] == concept_of[task.anchor.sticker_id]]
        annotate(task, annotators[n % 2], same)
    # and the pairs are built (one co-selection suffices at this size) and exported
    build = pair_build_start(campaign=campaign, params={"min_positive": 1, "min_displayed": 1})
    build = pair_build_run(build_id=build.id)
    assert build.status == PairBuild.Status.DONE, build.error
    snapshot = snapshot_create(campaign=campaign, ratios=(0.6, 0.2, 0.2))
    assert snapshot.manifest["total"]["positive"] > 0
    # and train_gse runs on it
    call_command("train_gse", "--snapshot", str(snapshot.number),
                 "--base", tiny_openclip["config_path"], "--pretrained",
                 tiny_openclip["checkpoint"], "--epochs", "1", "--batch-size", "64",
                 "--lr", "1e-3", "--device", "cpu")
    gse = EncoderVersion.objects.get(kind=EncoderVersion.Kind.GSE)
    # and the GSE is made the campaign's iteration-2 encoder
    encoder_activate_for_campaign(campaign=campaign, encoder_version=gse)
    stickers_embed(encoder_version=gse)
    built = candidate_sets_build(campaign=campaign, iteration=2)
    # then iteration 2's candidates come from the retrained model, registered with its report
    assert gse.status == "done" and gse.snapshot_id == snapshot.id
    assert Path(gse.report_dir, "report.md").is_file()
    assert built == 2 * CONCEPTS
    sets = CandidateSet.objects.filter(campaign=campaign, iteration=2)
    assert set(sets.values_list("encoder_version", flat=True)) == {gse.version}
    assert set(sets.values_list("retrieval_view", flat=True)) == {"image"}
