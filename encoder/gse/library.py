"""The evaluation library: the same emoji concept drawn in several open artwork styles (pure).

"Same meaning, different look" is what a sticker encoder must see past, and emoji give it
with human ground truth: Unicode says which drawings are the same concept, CLDR names them
in many languages. The library is built from pinned npm packages (``npm.tarball_fetch``):
four artwork styles, each under an open licence, and ``emojibase-data`` for the CLDR labels
(en, zh) and the group/subgroup of each concept.

Output, a Triple-S folder that ``evaluate_gse``, ``evaluate_table`` and the GSE pipeline read:
``images/<style>_<key>.png`` (stills at the demo GSE's size, on white), ``pairs_{train,val,
test}.csv`` (split by concept: no test concept is ever trained on), ``concepts.csv``,
``queries_en.csv`` / ``queries_zh.csv`` (StickerQueries format), ``manifest.json`` (packages,
checksums, licences, counts, what was skipped) and ``NOTICE.md`` with ``licenses/``.

Pairs: every two styles of one concept are a positive; each sticker gets one hard negative
(another concept of the same CLDR subgroup, e.g. two smiling faces) and one at random, each in
a random style, so same-style look-alikes with other meanings are among the negatives.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import tarfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from encoder.gse.data import PAIRS_HEADER, SPLITS, PairRow
from encoder.gse.npm import REGISTRY, FetchedPackage, NpmPackage, tarball_fetch
from encoder.gse.scorable import split_class_problem

SIZE = 64  # still side in pixels: the demo GSE's image_size (demo/models/demo_encoder.json)
SPLIT_SHARES = (0.6, 0.2)  # train, val share of the concepts; the rest is test
# A concept is kept only when every style has it (default): every concept then has the same
# cross-style positives. A lower value keeps concepts some styles lack (at least 2: a positive).
MIN_STYLES = 2
Log = Callable[[str], None]


@dataclass(frozen=True)
class StyleSource:
    """Where one artwork style lives in its npm package and under which licence."""

    style: str  # short name, the sticker id prefix
    package: NpmPackage
    folder: str  # tar member prefix of the artwork files, e.g. "package/img/google/64/"
    suffix: str  # ".png" (used as shipped, resized if needed) or ".svg" (rasterised)
    artwork: str  # what the artwork is, for the NOTICE
    licence: str  # SPDX id of the artwork's licence (the package's code may differ)
    notice: str  # attribution line required by the licence


STYLES = (
    StyleSource("noto", NpmPackage("emoji-datasource-google", "16.0.0"), "package/img/google/64/",
                ".png", "Noto Emoji artwork (64 px PNGs packaged by emoji-datasource)",
                "Apache-2.0", "Noto Emoji, Copyright Google Inc., Apache License 2.0."),
    StyleSource("twemoji", NpmPackage("emoji-datasource-twitter", "16.0.0"),
                "package/img/twitter/64/", ".png",
                "Twemoji artwork (64 px PNGs packaged by emoji-datasource)", "CC-BY-4.0",
                "Twemoji, Copyright Twitter, Inc. and other contributors, CC BY 4.0 "
                "(https://creativecommons.org/licenses/by/4.0/)."),
    StyleSource("openmoji", NpmPackage("openmoji", "17.0.0"), "package/color/svg/", ".svg",
                "OpenMoji colour SVGs, rasterised here with resvg", "CC-BY-SA-4.0",
                "OpenMoji, the open-source emoji and icon project, CC BY-SA 4.0 "
                "(https://openmoji.org, https://creativecommons.org/licenses/by-sa/4.0/)."),
    StyleSource("emojione", NpmPackage("emojione", "2.2.7"), "package/assets/png/", ".png",
                "EmojiOne 2.2.7 artwork (64 px PNGs)", "CC-BY-4.0",
                "Emoji artwork provided by EmojiOne 2.2.7, CC BY 4.0 "
                "(https://creativecommons.org/licenses/by/4.0/)."),
)
LABELS = NpmPackage("emojibase-data", "17.0.0")  # CLDR names, keywords, groups (MIT; CLDR data
# Unicode-3.0)
LABEL_LANGUAGES = ("en", "zh")
SKIPPED_GROUPS = {"component"}  # skin-tone and hair swatches: parts, not concepts


@dataclass(frozen=True)
class Concept:
    """One emoji meaning with its CLDR labels."""

    key: str  # join key: lower-case hexcode without FE0F/ZWJ (packages spell these apart)
    hexcode: str  # emojibase's hexcode
    label: str  # CLDR short name, English
    subgroup: str  # CLDR subgroup, e.g. "face-smiling": the hard negatives come from here
    group: str  # CLDR group, e.g. "smileys-emotion"
    queries: dict[str, list[str]]  # language -> CLDR name and keywords


@dataclass(frozen=True)
class LibrarySticker:
    sticker_id: str  # "<style>_<key>.png"
    concept: Concept
    style: str


def concept_key(code: str) -> str:
    """Lower-case code points without variation selector 16 and ZWJ: how files are joined
    (EmojiOne 2 writes the rainbow flag ``1f3f3-1f308``, emojibase ``1F3F3-FE0F-200D-1F308``)."""
    return "-".join(p for p in code.lower().split("-") if p not in ("fe0f", "200d"))


def read_members(tarball: Path, keep: Callable[[str], bool]) -> dict[str, bytes]:
    """The members of a .tgz whose name ``keep`` accepts, in one pass."""
    out = {}
    with tarfile.open(tarball, "r:gz") as tf:
        for member in tf:
            if member.isfile() and keep(member.name):
                handle = tf.extractfile(member)
                if handle is not None:
                    out[member.name] = handle.read()
    return out


def concepts_read(labels_tarball: Path) -> list[Concept]:
    """Every emoji of emojibase (skin-tone variants and components left out) that has a
    label in each of :data:`LABEL_LANGUAGES`, in emojibase order."""
    wanted = {f"package/{lang}/data.json" for lang in LABEL_LANGUAGES} | {
        "package/meta/groups.json"}
    files = read_members(labels_tarball, lambda name: name in wanted)
    if missing := wanted - files.keys():
        raise ValueError(f"{labels_tarball}: no {sorted(missing)} in the labels package")
    meta = json.loads(files["package/meta/groups.json"])
    groups = {int(k): v for k, v in meta["groups"].items()}
    subgroups = {int(k): v for k, v in meta["subgroups"].items()}
    by_lang = {lang: {e["hexcode"]: e for e in json.loads(files[f"package/{lang}/data.json"])}
               for lang in LABEL_LANGUAGES}
    out: dict[str, Concept] = {}
    for code, entry in by_lang["en"].items():
        group = groups.get(entry.get("group", -1))
        if group is None or group in SKIPPED_GROUPS:
            continue
        if not all(code in by_lang[lang] for lang in LABEL_LANGUAGES):
            continue
        queries = {lang: [by_lang[lang][code]["label"], *by_lang[lang][code].get("tags", [])]
                   for lang in LABEL_LANGUAGES}
        key = concept_key(code)
        out.setdefault(key, Concept(key=key, hexcode=code, label=entry["label"],
                                    subgroup=subgroups.get(entry.get("subgroup", -1), group),
                                    group=group, queries=queries))
    return list(out.values())


def style_artwork(tarball: Path, source: StyleSource) -> dict[str, bytes]:
    """Artwork bytes of one style by concept key."""
    files = read_members(tarball, lambda n: n.startswith(source.folder)
                         and n.lower().endswith(source.suffix))
    return {concept_key(Path(name).name[: -len(source.suffix)]): data
            for name, data in files.items()}


def still_from_artwork(data: bytes, suffix: str, size: int = SIZE) -> Image.Image:
    """The artwork as a ``size`` x ``size`` RGB still on white (as the platform stores stills).

    Raises ``ValueError`` (or ``OSError``) for a file that cannot be decoded.
    """
    if suffix == ".svg":
        import resvg_py  # a Rust wheel: no system cairo, works offline

        data = bytes(resvg_py.svg_to_bytes(svg_string=data.decode("utf-8"), width=size,
                                           height=size))
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        art = image.convert("RGBA")
    if art.size != (size, size):
        art = art.resize((size, size), Image.LANCZOS)
    still = Image.new("RGB", art.size, (255, 255, 255))
    still.paste(art, mask=art.getchannel("A"))
    return still


def split_concepts(keys: Iterable[str], seed: int,
                   shares: tuple[float, float] = SPLIT_SHARES) -> dict[str, set[str]]:
    """Concepts (not stickers) to train/val/test, seeded: a test concept is never seen."""
    order = [str(k) for k in np.random.default_rng(seed).permutation(sorted(keys))]
    n_train, n_val = int(shares[0] * len(order)), int(shares[1] * len(order))
    return {"train": set(order[:n_train]), "val": set(order[n_train:n_train + n_val]),
            "test": set(order[n_train + n_val:])}


def library_pairs(stickers: Sequence[LibrarySticker], seed: int) -> list[PairRow]:
    """Positives across every pair of styles of a concept; per sticker one hard negative (same
    subgroup, other concept) and one random negative (other concept), in random styles."""
    by_concept: dict[str, list[LibrarySticker]] = defaultdict(list)
    for s in stickers:
        by_concept[s.concept.key].append(s)
    by_subgroup: dict[str, list[str]] = defaultdict(list)
    for key, members in by_concept.items():
        by_subgroup[members[0].concept.subgroup].append(key)
    keys = sorted(by_concept)
    pairs: set[PairRow] = set()
    for members in by_concept.values():
        for a, b in itertools.combinations(members, 2):
            pairs.add(PairRow(*sorted((a.sticker_id, b.sticker_id)), 1))
    rng = np.random.default_rng(seed)
    for s in sorted(stickers, key=lambda x: x.sticker_id):
        hard = by_subgroup[s.concept.subgroup]
        for pool in (hard, keys):
            choices = [k for k in pool if k != s.concept.key]
            if not choices:
                continue  # a subgroup with one concept in this split has no hard negative
            partners = by_concept[choices[rng.integers(len(choices))]]
            partner = partners[rng.integers(len(partners))]
            pairs.add(PairRow(*sorted((s.sticker_id, partner.sticker_id)), 0))
    return sorted(pairs)


def queries_field(words: Iterable[str]) -> str:
    """StickerQueries field: ", "-joined, commas inside a keyword dropped, duplicates once."""
    seen, out = set(), []
    for word in words:
        word = " ".join(word.replace(",", " ").replace("，", " ").split())
        if word and word.casefold() not in seen:
            seen.add(word.casefold())
            out.append(word)
    return ", ".join(out)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def stills_write(
    concepts: Sequence[Concept], artwork: dict[str, dict[str, bytes]],
    suffixes: dict[str, str], images: Path, size: int, min_styles: int,
) -> tuple[list[LibrarySticker], dict[str, Counter]]:
    """Writes each concept's still per style; a missing or undecodable file skips that
    concept-style and is counted (``{style: {"missing": n, "unreadable": n}}``); concepts
    left with fewer than ``min_styles`` styles are dropped whole (counted under
    ``"dropped concepts"``)."""
    images.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, Counter] = {style: Counter() for style in artwork}
    stickers: list[LibrarySticker] = []
    for concept in concepts:
        stills = {}
        for style, files in artwork.items():
            data = files.get(concept.key)
            if data is None:
                skipped[style]["missing"] += 1
                continue
            try:
                stills[style] = still_from_artwork(data, suffixes[style], size)
            except (OSError, ValueError, UnicodeDecodeError, SyntaxError):
                skipped[style]["unreadable"] += 1
        if len(stills) < max(min_styles, MIN_STYLES):
            for style in stills:
                skipped[style]["dropped with its concept"] += 1
            continue
        for style, still in stills.items():
            sticker_id = f"{style}_{concept.key}.png"
            still.save(images / sticker_id, format="PNG")
            stickers.append(LibrarySticker(sticker_id, concept, style))
    return stickers, skipped


def notice_text(fetched: dict[str, FetchedPackage], styles: Sequence[StyleSource]) -> str:
    """NOTICE.md: every artwork style and the labels with their licence and attribution."""
    lines = ["# Evaluation library: sources, licences and attribution", "",
             "Third-party artwork and labels, redistributed under their licences. The stills "
             "were changed: resized to the library's size, SVGs rasterised, flattened on white.",
             "", "| style | artwork | npm package | licence |", "|---|---|---|---|"]
    lines += [f"| {s.style} | {s.artwork} | {s.package.spec} | {s.licence} |" for s in styles]
    lines += [f"| labels | CLDR names and keywords ({', '.join(LABEL_LANGUAGES)}), groups | "
              f"{LABELS.spec} | CLDR data Unicode-3.0; packaging "
              f"{fetched[LABELS.name].licence or 'MIT'} |", "", "## Attribution", ""]
    lines += [f"- {s.notice}" for s in styles]
    lines += ["- CLDR emoji annotations, Copyright Unicode, Inc., Unicode License v3.",
              "- Package licence files as shipped: `licenses/<package>/`."]
    return "\n".join(lines) + "\n"


def licences_copy(fetched: dict[str, FetchedPackage], folder: Path) -> list[str]:
    """Each package's own LICENSE files into ``folder/<package>/``; returns the paths."""
    written = []
    for package in fetched.values():
        files = read_members(package.path, lambda n: n.count("/") == 1
                             and Path(n).name.upper().startswith(("LICENSE", "LICENCE")))
        for member, data in files.items():
            target = folder / package.package.file_name.removesuffix(".tgz") / Path(member).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(str(target.relative_to(folder.parent)))
    return sorted(written)


def library_write(out: Path, stickers: Sequence[LibrarySticker], seed: int) -> dict[str, Any]:
    """Splits, pairs, concepts and queries files; returns the per-split counts."""
    splits = split_concepts({s.concept.key for s in stickers}, seed)
    split_of = {key: name for name, keys in splits.items() for key in keys}
    counts: dict[str, Any] = {}
    for name in SPLITS:
        members = [s for s in stickers if split_of[s.concept.key] == name]
        pairs = library_pairs(members, seed)
        _write_csv(out / f"pairs_{name}.csv", PAIRS_HEADER, pairs)
        positives = sum(p.label for p in pairs)
        counts[name] = {"concepts": len(splits[name]), "stickers": len(members),
                        "pairs": len(pairs), "positives": positives,
                        "negatives": len(pairs) - positives,
                        "problem": split_class_problem(name, (p.label for p in pairs))}
    rows = sorted(stickers, key=lambda s: s.sticker_id)
    _write_csv(out / "concepts.csv",
               ["sticker_id", "concept", "style", "group", "category", "label", "split"],
               ([s.sticker_id, s.concept.key, s.style, s.concept.subgroup, s.concept.group,
                 s.concept.label, split_of[s.concept.key]] for s in rows))
    for lang in LABEL_LANGUAGES:
        _write_csv(out / f"queries_{lang}.csv", ["sticker_id", "labeled_queries"],
                   ([s.sticker_id, queries_field(s.concept.queries[lang])] for s in rows))
    return counts


def library_build(
    *, out: str | Path, cache_dir: str | Path, registry: str = REGISTRY, size: int = SIZE,
    seed: int = 0, styles: Sequence[StyleSource] = STYLES, min_styles: int | None = None,
    max_concepts: int = 0, log: Log = lambda line: None,
) -> dict[str, Any]:
    """Fetches (or reads from the cache) every package, writes the library into ``out`` and
    returns its manifest (also written as ``manifest.json``). ``min_styles`` (default: all of
    ``styles``) is how many styles a concept needs to be kept; ``max_concepts`` (0: all)
    keeps the first ones in emojibase order, for a quick trial."""
    min_styles = len(styles) if min_styles is None else min_styles
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fetched: dict[str, FetchedPackage] = {}
    for package in [LABELS, *(s.package for s in styles)]:
        fetched[package.name] = tarball_fetch(package, cache_dir=cache_dir, registry=registry)
        log(f"{package.spec}: {'cached' if fetched[package.name].from_cache else 'fetched'}, "
            f"checksum ok")
    concepts = concepts_read(fetched[LABELS.name].path)[: max_concepts or None]
    artwork = {s.style: style_artwork(fetched[s.package.name].path, s) for s in styles}
    log(f"{len(concepts)} labelled concepts; artwork files: "
        + ", ".join(f"{k} {len(v)}" for k, v in artwork.items()))
    stickers, skipped = stills_write(concepts, artwork, {s.style: s.suffix for s in styles},
                                     out / "images", size, min_styles)
    styles_per_concept = Counter(s.concept.key for s in stickers)
    counts = library_write(out, stickers, seed)
    warnings = [problem for c in counts.values() if (problem := c.pop("problem"))]
    for warning in warnings:
        log(f"WARNING {warning}")
    (out / "NOTICE.md").write_text(notice_text(fetched, styles), encoding="utf-8")
    manifest = {
        "format": "Triple-S pairs (sticker_id,sticker_id_2,label), split by concept",
        "seed": seed, "size": size, "split_shares": list(SPLIT_SHARES), "min_styles": min_styles,
        "packages": [{"name": f.package.name, "version": f.package.version,
                      "integrity": f.integrity, "registry_license": f.licence}
                     for f in fetched.values()],
        "styles": [{**asdict(s), "package": s.package.spec} for s in styles],
        "labels": {"package": LABELS.spec, "languages": list(LABEL_LANGUAGES),
                   "licence": "CLDR data Unicode-3.0, emojibase-data packaging MIT"},
        "concepts": len(styles_per_concept),
        "concepts_in_all_styles": sum(n == len(styles) for n in styles_per_concept.values()),
        "stickers": len(stickers),
        "skipped": {style: dict(c) for style, c in skipped.items()},
        "splits": counts,
        "warnings": warnings,  # splits without both classes (too few concepts): not scorable
        "licence_files": licences_copy(fetched, out / "licenses"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    return manifest
