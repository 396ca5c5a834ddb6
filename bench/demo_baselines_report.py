"""The shipped demo GSE against the surface baselines on the demo report's split (unseen
concepts), with paired bootstrap intervals; CPU, about a minute, no training.

    .venv/bin/python bench/demo_baselines_report.py --out var/demo_baselines_report

The split is the one ``bench/demo_gse_report.py`` trains on (same seed), so the shipped
encoder (demo/models/demo_encoder.*, trained there) is scored on concepts it never saw.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.demo_gse_report import (  # noqa: E402
    DEMO,
    REPO,
    read_concepts,
    split_concepts,
    split_pairs,
    write_stills,
)
from encoder.gse.baselines import SURFACE_BASELINES  # noqa: E402
from encoder.gse.data import folder_resolver  # noqa: E402
from encoder.gse.emotion import emotion_table, reference_classification  # noqa: E402
from encoder.gse.evaluate import (  # noqa: E402
    evaluate_baselines,
    evaluate_model,
    model_embedder,
)
from encoder.gse.model import gse_model_load  # noqa: E402
from encoder.gse.pipeline import baseline_notes  # noqa: E402
from encoder.gse.report import compare, write_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "var" / "demo_baselines_report"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows = read_concepts(DEMO / "concepts.csv")
    write_stills(rows, out / "stills")
    splits = split_concepts(sorted({r["concept"] for r in rows}), args.seed)
    pairs = {name: split_pairs(rows, concepts, args.seed) for name, concepts in splits.items()}
    resolver = folder_resolver(out / "stills")
    groups = {r["sticker_id"]: r["concept"] for r in rows}
    shipped = DEMO / "models"
    model = gse_model_load(str(shipped / "demo_encoder.json"), str(shipped / "demo_encoder.pt"),
                           "cpu")
    evaluations = {"demo GSE (shipped)": evaluate_model(
        model, test=pairs["test"], val=pairs["val"], resolver=resolver, groups=groups)}
    evaluations.update(evaluate_baselines(tuple(SURFACE_BASELINES), test=pairs["test"],
                                          val=pairs["val"], resolver=resolver, groups=groups))
    bootstrap = compare(evaluations, reference="demo GSE (shipped)", seed=args.seed)
    test = pairs["test"]
    info = {"test_pairs": f"{len(test)} ({sum(p.label for p in test)} positive), "
                          f"{len(splits['test'])} unseen concepts",
            "val_pairs": len(pairs["val"])}
    files = write_report(out / "report", title="Shipped demo GSE vs surface baselines",
                         evaluations=evaluations, info=info,
                         notes=baseline_notes(tuple(SURFACE_BASELINES)), bootstrap=bootstrap)
    print(Path(files["markdown"]).read_text())
    print(emotion_report(rows, splits["val"] | splits["test"], model, out / "stills", args.seed))


def emotion_report(rows, concepts, model, stills: Path, seed: int) -> str:
    """Emotion classification by reference sticker, the face-* CLDR subgroups as classes,
    over the stickers of concepts the shipped GSE never trained on (val + test)."""
    chosen = [r for r in rows if r["concept"] in concepts and r["group"].startswith("face-")]
    ids = [r["sticker_id"] for r in chosen]
    classes = [r["group"] for r in chosen]
    paths = {s: stills / s for s in ids}
    embedders = {"demo GSE (shipped)": model_embedder(model),
                 **{n: b.embed for n, b in SURFACE_BASELINES.items()}}
    results = {name: reference_classification(embed(ids, paths), classes, seed=seed)
               for name, embed in embedders.items()}
    first = next(iter(results.values()))
    return (f"## Emotion by reference sticker ({first['stickers']} stickers, "
            f"{first['classes']} face-* subgroups, chance {first['chance_accuracy']:.3f}, "
            f"{first['draws']} draws)\n\n" + emotion_table(results))


if __name__ == "__main__":
    main()
