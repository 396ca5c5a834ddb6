"""How the demo library in this folder was made (documentation; not run by CI or the tests).

The demo library is real, openly licensed artwork with human-written labels: the same emoji
concept drawn in two styles (Noto and Twemoji) is "same meaning, different look", which is
what sticker similarity is about. Labels are the CLDR short name and keywords in English and
Chinese. A few stickers are animated derivatives (bounce, pulse, wiggle) of the real artwork,
so the demo also shows animated gif, animated webp and webm.

Inputs are three npm packages, fetched with ``npm pack`` (pinned versions below):
- emoji-datasource-google: Noto emoji 64 px PNGs (artwork Apache-2.0)
- emoji-datasource-twitter: Twemoji 64 px PNGs (artwork CC-BY-4.0)
- emojibase-data: CLDR names and keywords, en and zh (MIT; CLDR data Unicode-3.0)

Usage (from the repository root, needs npm and network, writes demo/):

    .venv/bin/python demo/build_demo_library.py [--tarballs DIR_WITH_THE_THREE_TGZ]

Outputs: ``stickers/`` (sticker files), ``queries_en.csv`` and ``queries_zh.csv``
(StickerQueries format), ``concepts.csv`` (which concept, style and group each sticker is).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

DEMO = Path(__file__).resolve().parent
sys.path.insert(0, str(DEMO.parent))  # run as a script from the repository root

from encoder.gse.library import queries_field  # noqa: E402 (the StickerQueries field, one rule)

PACKAGES = {
    "google": "emoji-datasource-google@16.0.0",
    "twitter": "emoji-datasource-twitter@16.0.0",
    "emojibase": "emojibase-data@17.0.0",
}
STYLES = {"noto": "google", "twemoji": "twitter"}  # style name -> image set in the packages

# Emotions, gestures and reactions: what stickers mean. emojibase subgroup names.
SUBGROUPS = [
    "face-smiling", "face-affection", "face-tongue", "face-hand", "face-neutral-skeptical",
    "face-sleepy", "face-unwell", "face-hat", "face-glasses", "face-concerned", "face-negative",
    "cat-face", "monkey-face", "hand-fingers-open", "hand-fingers-partial",
    "hand-single-finger", "hand-fingers-closed", "hands", "person-gesture",
]
# A few hearts and emotion symbols beside the faces (hexcodes as in emojibase).
EXTRA = ["2764", "1F494", "1F496", "1F495", "1F498", "1F4A2", "1F4A4", "1F4A6", "1F4AF", "1F4A5"]
# The subgroups above hold some concepts that are hard to tell apart at 64 px or are near
# copies of another (the 9 directions of pointing hands); they are left out.
SKIP = {"1F446", "1F447", "1F448", "1F449", "261D", "1FAF5", "1FAF1", "1FAF2", "1FAF3", "1FAF4",
        "1FAF7", "1FAF8"}

# Animated derivatives: (style, hexcode, animation, format).
ANIMATED = [
    ("noto", "1F602", "bounce", "gif"), ("twemoji", "1F44B", "wiggle", "gif"),
    ("noto", "1F44D", "bounce", "gif"), ("twemoji", "1F621", "pulse", "gif"),
    ("noto", "1F62D", "wiggle", "gif"), ("twemoji", "1F60D", "pulse", "gif"),
    ("noto", "1F914", "wiggle", "gif"), ("twemoji", "1F44F", "bounce", "gif"),
    ("noto", "1F64F", "pulse", "gif"), ("twemoji", "1F631", "wiggle", "gif"),
    ("twemoji", "1F923", "wiggle", "webp"), ("noto", "1F60A", "bounce", "webp"),
    ("twemoji", "1F622", "bounce", "webp"), ("noto", "1F620", "wiggle", "webp"),
    ("twemoji", "1F634", "pulse", "webp"), ("noto", "1F618", "pulse", "webp"),
    ("twemoji", "1F92F", "bounce", "webp"), ("noto", "1F44C", "wiggle", "webp"),
    ("twemoji", "1F64C", "bounce", "webp"), ("noto", "2764", "pulse", "webp"),
    ("noto", "1F60E", "bounce", "webm"), ("twemoji", "1F62E", "pulse", "webm"),
    ("noto", "1F91D", "wiggle", "webm"), ("twemoji", "1F973", "bounce", "webm"),
]
FRAMES = 12  # one loop of an animation
FRAME_MS = 80
SIZE = 64


def fetch(tarballs: Path | None) -> dict[str, Path]:
    """The three package tarballs, downloaded with ``npm pack`` unless given."""
    folder = tarballs or Path(tempfile.mkdtemp(prefix="demo-npm-"))
    if tarballs is None:
        subprocess.run(["npm", "pack", *PACKAGES.values()], cwd=folder, check=True)
    found = {}
    for key, spec in PACKAGES.items():
        name = spec.split("@")[0]
        matches = sorted(folder.glob(f"{name}-*.tgz"))
        if not matches:
            raise SystemExit(f"{name}-*.tgz not found in {folder}")
        found[key] = matches[-1]
    return found


def read_members(tarball: Path, wanted: set[str]) -> dict[str, bytes]:
    """The wanted members of a .tgz, read in one pass."""
    out = {}
    with tarfile.open(tarball, "r:gz") as tf:
        for member in tf:
            if member.name in wanted:
                out[member.name] = tf.extractfile(member).read()
    return out


def hex_key(code: str) -> str:
    """Hexcode without variation selectors, lower case: how the two sources are joined."""
    return "-".join(p for p in code.lower().split("-") if p != "fe0f")


def concepts(emojibase: Path) -> list[dict]:
    """Selected concepts with their en and zh labels and keywords."""
    files = read_members(emojibase, {"package/en/data.json", "package/zh/data.json",
                                     "package/meta/groups.json"})
    en = json.loads(files["package/en/data.json"])
    zh = {e["hexcode"]: e for e in json.loads(files["package/zh/data.json"])}
    meta = json.loads(files["package/meta/groups.json"])
    subgroup_names = {int(k): v for k, v in meta["subgroups"].items()}
    group_names = {int(k): v for k, v in meta["groups"].items()}
    selected = []
    for entry in en:
        subgroup = subgroup_names.get(entry.get("subgroup", -1))
        code = entry["hexcode"]
        if code in SKIP or (subgroup not in SUBGROUPS and code not in EXTRA):
            continue
        label = entry["label"]
        gendered = label.startswith(("man ", "woman ")) or "-200D-264" in code
        if gendered or code not in zh:
            continue  # gendered variants repeat the neutral person's meaning
        selected.append({
            "hexcode": code, "key": hex_key(code), "subgroup": subgroup,
            "category": group_names[entry["group"]], "label": label,
            "en": [label, *entry.get("tags", [])],
            "zh": [zh[code]["label"], *zh[code].get("tags", [])],
        })
    return selected


def animate(base: Image.Image, kind: str) -> list[Image.Image]:
    """FRAMES RGBA frames of SIZE x SIZE: the artwork bouncing, pulsing or wiggling."""
    frames = []
    for i in range(FRAMES):
        t = i / FRAMES
        canvas = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
        if kind == "bounce":
            art = base.resize((52, 52), Image.LANCZOS)
            canvas.alpha_composite(art, (6, 10 - round(9 * abs(math.sin(math.pi * t)))))
        elif kind == "pulse":
            side = round(52 + 10 * math.sin(2 * math.pi * t))
            art = base.resize((side, side), Image.LANCZOS)
            canvas.alpha_composite(art, ((SIZE - side) // 2, (SIZE - side) // 2))
        else:  # wiggle
            art = base.resize((54, 54), Image.LANCZOS).rotate(
                14 * math.sin(2 * math.pi * t), resample=Image.BICUBIC, expand=False)
            canvas.alpha_composite(art, (5, 5))
        frames.append(canvas)
    return frames


def on_white(frame: Image.Image) -> Image.Image:
    white = Image.new("RGB", frame.size, (255, 255, 255))
    white.paste(frame, mask=frame.getchannel("A"))
    return white


def encode(frames: list[Image.Image], fmt: str) -> bytes:
    """The frames as an animated gif (on white), webp (with alpha) or webm (VP9, on white)."""
    out = io.BytesIO()
    if fmt == "gif":
        flat = [on_white(f) for f in frames]
        flat[0].save(out, format="GIF", save_all=True, append_images=flat[1:],
                     duration=FRAME_MS, loop=0, optimize=True)
    elif fmt == "webp":
        frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:],
                       duration=FRAME_MS, loop=0, quality=85, method=6)
    else:
        with av.open(out, mode="w", format="webm") as container:
            stream = container.add_stream("libvpx-vp9", rate=1000 // FRAME_MS)
            stream.width = stream.height = SIZE
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "30", "b:v": "0"}
            for frame in frames * 2:  # two loops: a video sticker usually lasts ~2 s
                video = av.VideoFrame.from_ndarray(np.asarray(on_white(frame)), format="rgb24")
                for packet in stream.encode(video):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return out.getvalue()


def build(tarballs: Path | None) -> None:
    found = fetch(tarballs)
    selected = concepts(found["emojibase"])
    images: dict[tuple[str, str], bytes] = {}
    for style, image_set in STYLES.items():
        prefix = f"package/img/{image_set}/64/"
        with tarfile.open(found[image_set], "r:gz") as tf:
            for member in tf:
                if member.name.startswith(prefix) and member.name.endswith(".png"):
                    key = hex_key(member.name[len(prefix):-4])
                    images[(style, key)] = tf.extractfile(member).read()
    selected = [c for c in selected if all((s, c["key"]) in images for s in STYLES)]
    out_dir = DEMO / "stickers"
    out_dir.mkdir(exist_ok=True)
    for old in out_dir.iterdir():
        old.unlink()
    rows = []  # (sticker_id, concept)
    by_code = {c["hexcode"]: c for c in selected}
    for concept in selected:
        for style in STYLES:
            sticker_id = f"{style}_{concept['key']}.png"
            (out_dir / sticker_id).write_bytes(images[(style, concept["key"])])
            rows.append((sticker_id, concept, "none"))
    for style, code, kind, fmt in ANIMATED:
        concept = by_code[code]
        base = Image.open(io.BytesIO(images[(style, concept["key"])])).convert("RGBA")
        sticker_id = f"{style}_{concept['key']}_{kind}.{fmt}"
        (out_dir / sticker_id).write_bytes(encode(animate(base, kind), fmt))
        rows.append((sticker_id, concept, kind))
    write_csvs(rows)
    print(f"{len(selected)} concepts, {len(rows)} stickers written to {out_dir}")


def write_csvs(rows: list[tuple[str, dict, str]]) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    for lang in ("en", "zh"):
        with (DEMO / f"queries_{lang}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["sticker_id", "labeled_queries"])
            writer.writerows((sid, queries_field(c[lang])) for sid, c, _ in rows)
    with (DEMO / "concepts.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["sticker_id", "concept", "style", "group", "category", "label",
                         "animation"])
        for sid, c, kind in rows:
            writer.writerow([sid, c["key"], sid.split("_")[0], c["subgroup"], c["category"],
                             c["label"], kind])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarballs", type=Path, help="folder holding the three .tgz files")
    build(parser.parse_args().tarballs)
