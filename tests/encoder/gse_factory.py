"""A generated Triple-S snapshot folder for GSE tests: concepts drawn in several styles.

A concept is a shape at a position (what the sticker "means"); a style is the background
colour and the shape's colour (how it is drawn). Positives: same concept, other style;
negatives: other concepts. Concepts are split between train / val / test, so no sticker is in
two splits (as a real snapshot).
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

from PIL import Image, ImageDraw

STYLES = [((250, 240, 200), (200, 30, 30)), ((30, 30, 60), (90, 220, 90)),
          ((200, 220, 250), (30, 30, 200))]
WORDS = ["hello", "angry", "love", "sleepy", "laugh", "cry", "ok", "no", "yes", "wow", "bye",
         "think"]


def draw_sticker(concept: int, style: int, size: int = 32) -> Image.Image:
    """Concept decides the shape and where it is; style decides the colours."""
    background, ink = STYLES[style % len(STYLES)]
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    x = 4 + (concept * 7) % (size - 16)
    y = 4 + (concept * 11) % (size - 16)
    box = (x, y, x + 10, y + 10)
    shape = concept % 3
    if shape == 0:
        draw.ellipse(box, fill=ink)
    elif shape == 1:
        draw.rectangle(box, fill=ink)
    else:
        draw.polygon([(x, y + 10), (x + 5, y), (x + 10, y + 10)], fill=ink)
    return image


def sticker_id(concept: int, style: int) -> str:
    return f"c{concept:02d}_s{style}.png"


def _pairs(concepts: list[int], styles: int) -> list[tuple[str, str, int]]:
    rows = []
    for c in concepts:  # positives: every two styles of one concept
        for s1, s2 in itertools.combinations(range(styles), 2):
            rows.append((sticker_id(c, s1), sticker_id(c, s2), 1))
    for c1, c2 in itertools.combinations(concepts, 2):  # negatives: same style, other concept
        rows.append((sticker_id(c1, 0), sticker_id(c2, (c1 + c2) % styles), 0))
    return rows


def write_pairs(path: Path, rows: list[tuple[str, str, int]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sticker_id", "sticker_id_2", "label"])
        writer.writerows(rows)


def make_snapshot_folder(
    folder: Path, *, concepts: int = 12, styles: int = 3, size: int = 32,
    split: tuple[int, int] = (6, 3),
) -> dict:
    """Writes pairs_{train,val,test}.csv, stickers/, queries.csv and manifest.json.

    ``split`` = (train concepts, val concepts); the rest are test concepts. Returns
    ``{"folder", "queries", "concept_of"}``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stickers").mkdir(exist_ok=True)
    queries: dict[str, list[str]] = {}
    concept_of: dict[str, int] = {}
    for c in range(concepts):
        for s in range(styles):
            sid = sticker_id(c, s)
            draw_sticker(c, s, size).save(folder / "stickers" / sid)
            queries[sid] = [WORDS[c % len(WORDS)], f"{WORDS[c % len(WORDS)]} sticker"]
            concept_of[sid] = c
    order = list(range(concepts))
    n_train, n_val = split
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    for name, members in parts.items():
        write_pairs(folder / f"pairs_{name}.csv", _pairs(members, styles))
    with (folder / "queries.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["sticker_id", "labeled_queries"])
        for sid, qs in queries.items():
            writer.writerow([sid, ", ".join(qs)])
    (folder / "manifest.json").write_text(json.dumps({"generated": True}))
    return {"folder": folder, "queries": queries, "concept_of": concept_of}
