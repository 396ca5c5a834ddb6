"""GSE vs its base model on the demo library, test split of UNSEEN concepts (CPU, minutes).

    .venv/bin/python bench/demo_gse_report.py --out var/demo_gse_report [--ship]

Pairs come from ``demo/concepts.csv``: positives are two stickers of the same concept in
different styles (Noto vs Twemoji, animated derivatives included); negatives are stickers of
different concepts (one from the same CLDR subgroup where there is one: the hard case, one at
random). Concepts, not stickers, are split 60/20/20 into train/val/test, so every test pair is
about concepts the GSE never saw. The images are the library's stills (first frame on white,
as the platform stores them, webm included); the texts are the CLDR queries in queries_en.csv.

The base is a small OpenCLIP ViT with RANDOM weights (seeded): this machine has no pretrained
weights. So the report shows that the training loop learns style-invariant features that carry
to unseen concepts, compared with an untrained network; it cannot show the gain over a
pretrained CLIP, which is the paper's claim (run ``manage.py train_gse`` with ViT-B-32 and a
pretrained tag for that). ``--ship`` writes demo/models/demo_encoder.{json,pt} (fp16, <10 MB),
the fallback encoder of ``manage.py demo_setup``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotation.media import MediaLimits, media_probe  # noqa: E402
from encoder.gse.config import TrainConfig  # noqa: E402
from encoder.gse.data import (  # noqa: E402
    PairRow,
    SnapshotPairs,
    folder_resolver,
    read_queries_csv,
)
from encoder.gse.pipeline import gse_run  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
# ~4 M parameters, 8 MB in fp16 (the 49,408-token embedding is most of it); 64 px stills.
DEMO_MODEL_CONFIG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 4, "width": 128, "patch_size": 8,
                   "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2,
                 "layers": 2},
}
SPLIT = (0.6, 0.2)  # train, val share of the concepts; the rest is test


def read_concepts(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_stills(rows: list[dict[str, str]], folder: Path) -> None:
    """The platform's still of each sticker (first frame, RGB on white), under its id."""
    folder.mkdir(parents=True, exist_ok=True)
    limits = MediaLimits(max_bytes=20_000_000, max_pixels=4096 * 4096, max_frames=1000)
    for row in rows:
        target = folder / row["sticker_id"]
        if not target.is_file():
            data = (DEMO / "stickers" / row["sticker_id"]).read_bytes()
            target.write_bytes(media_probe(data, name=row["sticker_id"], limits=limits).still_png)


def split_concepts(concepts: list[str], seed: int) -> dict[str, set[str]]:
    order = list(np.random.default_rng(seed).permutation(sorted(concepts)))
    n_train, n_val = int(SPLIT[0] * len(order)), int(SPLIT[1] * len(order))
    return {"train": set(order[:n_train]), "val": set(order[n_train:n_train + n_val]),
            "test": set(order[n_train + n_val:])}


def split_pairs(rows: list[dict[str, str]], concepts: set[str], seed: int) -> list[PairRow]:
    """Positives: same concept, other style; negatives: two per sticker, other concepts."""
    members = [r for r in rows if r["concept"] in concepts]
    by_concept: dict[str, list[dict]] = defaultdict(list)
    for r in members:
        by_concept[r["concept"]].append(r)
    pairs: set[PairRow] = set()
    for group in by_concept.values():
        for a, b in itertools.combinations(group, 2):
            if a["style"] != b["style"]:
                pairs.add(PairRow(*sorted((a["sticker_id"], b["sticker_id"])), 1))
    rng = np.random.default_rng(seed)
    for r in members:
        others = [o for o in members if o["concept"] != r["concept"]]
        same_group = [o for o in others if o["group"] == r["group"]]
        picks = [same_group[rng.integers(len(same_group))]] if same_group else []
        picks.append(others[rng.integers(len(others))])
        for o in picks:
            pairs.add(PairRow(*sorted((r["sticker_id"], o["sticker_id"])), 0))
    return sorted(pairs)


def write_split(path: Path, pairs: list[PairRow]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sticker_id", "sticker_id_2", "label"])
        writer.writerows(pairs)


def ship(checkpoint: Path, out: Path) -> dict[str, int]:
    """demo/models/demo_encoder.{json,pt}: the config and the weights in fp16."""
    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(checkpoint, map_location="cpu")["state_dict"]
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"state_dict": half}, out / "demo_encoder.pt")
    (out / "demo_encoder.json").write_text(json.dumps(DEMO_MODEL_CONFIG, indent=2) + "\n")
    return {p.name: p.stat().st_size for p in out.glob("demo_encoder.*")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "var" / "demo_gse_report"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pair-weight", type=float, default=1.0)
    parser.add_argument("--image-text-weight", type=float, default=1.0)
    parser.add_argument("--ship", action="store_true", help="write demo/models/demo_encoder.*")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows = read_concepts(DEMO / "concepts.csv")
    write_stills(rows, out / "stills")
    splits = split_concepts(sorted({r["concept"] for r in rows}), args.seed)
    pairs = {name: split_pairs(rows, concepts, args.seed) for name, concepts in splits.items()}
    for name, split in pairs.items():
        write_split(out / f"pairs_{name}.csv", split)
    config_path = out / "demo-gse-small.json"
    config_path.write_text(json.dumps(DEMO_MODEL_CONFIG))
    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                         warmup_steps=10, device="cpu", seed=args.seed,
                         pair_weight=args.pair_weight, image_text_weight=args.image_text_weight)
    counts = {f"{n}_pairs": f"{len(p)} ({sum(x.label for x in p)} positive), "
                            f"{len(splits[n])} concepts" for n, p in pairs.items()}
    result = gse_run(
        snapshot=SnapshotPairs(folder=out, **pairs), resolver=folder_resolver(out / "stills"),
        queries=read_queries_csv(DEMO / "queries_en.csv"), base_model=str(config_path),
        pretrained="", config=config, out_dir=out / "model",
        groups={r["sticker_id"]: r["concept"] for r in rows},
        progress=lambda stage, frac, detail: print(f"\r{stage} {frac:5.1%} {detail}", end=""),
        title="GSE vs base on the demo library (test: unseen concepts)", info=counts,
        notes=["Base model: small OpenCLIP ViT with RANDOM (seeded) weights, no pretrained "
               "weights on this machine: the comparison shows what training adds to an "
               "untrained network, not the gain over a pretrained CLIP (the paper's claim).",
               "Retrieval groups: the demo's concept column (same meaning, other style)."],
    )
    print()
    print((out / "model" / "report" / "report.md").read_text())
    if args.ship:
        print(ship(result.checkpoint, DEMO / "models"))


if __name__ == "__main__":
    main()
