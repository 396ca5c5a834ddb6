"""The evaluation library (encoder/gse/library.py, encoder/gse/npm.py) built from a tiny
hand-made npm registry on loopback: no network, no database."""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from encoder.gse.data import folder_resolver, snapshot_pairs_load
from encoder.gse.evaluate import evaluate_baselines
from encoder.gse.library import (
    LABELS,
    Concept,
    LibrarySticker,
    StyleSource,
    concept_key,
    library_build,
    library_pairs,
    split_concepts,
)
from encoder.gse.npm import NpmError, NpmPackage, tarball_fetch
from tests.encoder.fake_npm import FakeRegistry, png, serving, svg

# (hexcode as emojibase writes it, en label, zh label, group, subgroup)
CONCEPTS = [
    ("1F600", "grinning face", "嘿嘿", 0, 0),
    ("1F603", "grinning face with big eyes", "哈哈", 0, 0),
    ("1F604", "grinning face with smiling eyes", "大笑", 0, 0),
    ("1F620", "angry face", "生气", 0, 1), ("1F621", "enraged face", "怒火中烧", 0, 1),
    ("1F622", "crying face", "哭", 0, 1), ("2764-FE0F", "red heart", "红心", 0, 2),
    ("1F494", "broken heart", "心碎", 0, 2),
    ("1F3F3-FE0F-200D-1F308", "rainbow flag", "彩虹旗", 9, 3),
    ("1F3C1", "chequered flag", "终点旗", 9, 3), ("1F6A9", "triangular flag", "三角旗", 9, 3),
    ("1F61E", "disappointed face", "失望", 0, 1),
]
COMPONENT = ("1F3FB", "light skin tone", "较浅肤色", 2, 4)  # a part, never a concept
NO_ZH = ("1F47B", "ghost", None, 0, 0)  # no Chinese label: left out
MISSING_IN_DELTA = "1F604"
CORRUPT_IN_DELTA = "1F622"
COLOURS = [(200, 30, 30), (30, 160, 30), (30, 30, 200), (220, 180, 20), (120, 40, 160)]


def labels_files() -> dict[str, bytes]:
    meta = {"groups": {"0": "smileys-emotion", "2": "component", "9": "flags"},
            "subgroups": {"0": "face-smiling", "1": "face-negative", "2": "heart", "3": "flag",
                          "4": "skin-tone"}}
    en, zh = [], []
    for code, label_en, label_zh, group, subgroup in [*CONCEPTS, COMPONENT, NO_ZH]:
        en.append({"hexcode": code, "label": label_en, "group": group, "subgroup": subgroup,
                   "tags": [label_en.split()[0], "emoji"]})
        if label_zh:
            zh.append({"hexcode": code, "label": label_zh, "group": group,
                       "subgroup": subgroup, "tags": [label_zh[:1]]})
    return {"package/en/data.json": json.dumps(en).encode(),
            "package/zh/data.json": json.dumps(zh, ensure_ascii=False).encode(),
            "package/meta/groups.json": json.dumps(meta).encode(),
            "package/LICENSE": b"MIT licence of the labels package"}


def style_files(style: int, folder: str, name, draw) -> dict[str, bytes]:
    """One style's artwork: each concept drawn with the style's own shape and the concept's
    colour (so the same concept looks alike across styles only by colour)."""
    files = {f"package/LICENSE{'.md' if style % 2 else ''}": f"licence of style {style}".encode()}
    for i, (code, *_rest) in enumerate(CONCEPTS):
        files[f"{folder}{name(code)}"] = draw(COLOURS[i % len(COLOURS)], style + i % 3)
    return files


TEST_STYLES = (
    StyleSource("alpha", NpmPackage("fake-alpha", "1.0.0"), "package/img/64/", ".png",
                "alpha artwork", "Apache-2.0", "alpha, Apache 2.0"),
    StyleSource("beta", NpmPackage("@fake/beta", "2.0.0"), "package/png/", ".png",
                "beta artwork", "CC-BY-4.0", "beta, CC BY 4.0"),
    StyleSource("gamma", NpmPackage("fake-gamma", "1.0.0"), "package/svg/", ".svg",
                "gamma SVG artwork", "CC-BY-SA-4.0", "gamma, CC BY-SA 4.0"),
    StyleSource("delta", NpmPackage("fake-delta", "0.1.0"), "package/assets/png/", ".png",
                "delta artwork", "CC-BY-4.0", "delta, CC BY 4.0"),
)


def make_registry() -> FakeRegistry:
    registry = FakeRegistry()
    registry.add(LABELS.name, LABELS.version, labels_files())
    registry.add("fake-alpha", "1.0.0", style_files(
        0, "package/img/64/", lambda c: f"{c.lower()}.png", png))
    registry.add("@fake/beta", "2.0.0", style_files(
        1, "package/png/", lambda c: f"{c.upper()}.png", lambda col, s: png(col, s, size=72)))
    registry.add("fake-gamma", "1.0.0", style_files(
        2, "package/svg/", lambda c: f"{c}.svg",
        lambda col, s: svg("#{:02x}{:02x}{:02x}".format(*col), s)))
    delta = style_files(3, "package/assets/png/",
                        lambda c: f"{concept_key(c)}.png", png)  # no FE0F, no ZWJ
    del delta[f"package/assets/png/{concept_key(MISSING_IN_DELTA)}.png"]
    delta[f"package/assets/png/{concept_key(CORRUPT_IN_DELTA)}.png"] = b"\x89PNG not really"
    registry.add("fake-delta", "0.1.0", delta)
    return registry


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The library built once from the fake registry: (folder, manifest, registry)."""
    root = tmp_path_factory.mktemp("library")
    with serving(make_registry()) as registry:
        manifest = library_build(out=root / "out", cache_dir=root / "cache",
                                 registry=registry.url, styles=TEST_STYLES, seed=3)
    return root / "out", manifest, registry


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_concept_key_joins_the_spellings_of_the_packages():
    # given emojibase's, an upper-case file's and EmojiOne 2's spelling of the rainbow flag
    # when / then they meet on one key
    assert concept_key("1F3F3-FE0F-200D-1F308") == concept_key("1f3f3-1f308") == "1f3f3-1f308"


def test_the_library_has_every_concept_drawn_in_all_styles_with_en_and_zh_labels(built):
    # given the library built from the fake registry
    out, manifest, _ = built
    # then the concepts kept are those every style draws (one missing, one corrupt in delta;
    # the skin-tone component and the concept without a Chinese label are left out)
    expected = {concept_key(c[0]) for c in CONCEPTS} - {
        concept_key(MISSING_IN_DELTA), concept_key(CORRUPT_IN_DELTA)}
    rows = read_rows(out / "concepts.csv")
    assert {r["concept"] for r in rows} == expected
    assert manifest["concepts"] == manifest["concepts_in_all_styles"] == len(expected)
    assert manifest["stickers"] == len(rows) == 4 * len(expected)
    # and each still is an RGB 64 px square on white, named style_key
    for row in rows:
        image = Image.open(out / "images" / row["sticker_id"])
        assert (image.mode, image.size) == ("RGB", (64, 64))
        assert image.getpixel((0, 0)) == (255, 255, 255)
        assert row["sticker_id"] == f"{row['style']}_{row['concept']}.png"
    # and the queries carry the CLDR labels in both languages
    zh = {r["sticker_id"]: r["labeled_queries"] for r in read_rows(out / "queries_zh.csv")}
    en = {r["sticker_id"]: r["labeled_queries"] for r in read_rows(out / "queries_en.csv")}
    assert zh["gamma_1f3f3-1f308.png"].startswith("彩虹旗")
    assert en["delta_2764.png"].startswith("red heart, red, emoji")


def test_pairs_are_split_by_concept_with_positives_across_every_two_styles(built):
    # given the library's three splits
    out, manifest, _ = built
    snapshot = snapshot_pairs_load(out)
    concept = {r["sticker_id"]: r["concept"] for r in read_rows(out / "concepts.csv")}
    seen: dict[str, set[str]] = {}
    for split in ("train", "val", "test"):
        pairs = getattr(snapshot, split)
        concepts = {concept[s] for p in pairs for s in (p.sticker_id, p.sticker_id_2)}
        seen[split] = concepts
        # then a positive is one concept in two styles, a negative two concepts
        for p in pairs:
            same = concept[p.sticker_id] == concept[p.sticker_id_2]
            assert same == (p.label == 1)
            assert p.sticker_id.split("_")[0] != p.sticker_id_2.split("_")[0] or not same
        # and every two styles of each concept are a positive: C(4, 2) = 6 per concept
        positives = {(p.sticker_id, p.sticker_id_2) for p in pairs if p.label == 1}
        for key in concepts:
            ids = sorted(s for s, c in concept.items() if c == key)
            assert set(itertools.combinations(ids, 2)) <= positives
        assert manifest["splits"][split]["positives"] == 6 * len(concepts)
    # and no concept is in two splits
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"]
                or seen["val"] & seen["test"])


def test_a_corrupt_or_missing_image_skips_that_concept_style_and_is_counted(built, tmp_path):
    # given the same registry, keeping concepts that at least two styles draw
    _, manifest, _ = built
    # then the default build counted one missing and one unreadable delta file
    assert manifest["skipped"]["delta"] == {"missing": 1, "unreadable": 1}
    assert manifest["skipped"]["alpha"] == {"dropped with its concept": 2}
    # when built again keeping concepts with 2+ styles
    with serving(make_registry()) as registry:
        loose = library_build(out=tmp_path / "out", cache_dir=tmp_path / "cache",
                              registry=registry.url, styles=TEST_STYLES, min_styles=2)
    # then those two concepts stay, in their three good styles
    rows = read_rows(tmp_path / "out" / "concepts.csv")
    styles = defaultdict(set)
    for r in rows:
        styles[r["concept"]].add(r["style"])
    assert styles[concept_key(CORRUPT_IN_DELTA)] == {"alpha", "beta", "gamma"}
    assert styles[concept_key(MISSING_IN_DELTA)] == {"alpha", "beta", "gamma"}
    assert loose["concepts"] == len(CONCEPTS)
    assert loose["concepts_in_all_styles"] == len(CONCEPTS) - 2


def test_manifest_and_notice_name_every_package_checksum_and_licence(built):
    # given the built library
    out, manifest, _ = built
    # then the manifest pins each package with the checksum it was verified against
    names = {p["name"]: p for p in manifest["packages"]}
    assert set(names) == {LABELS.name, "fake-alpha", "@fake/beta", "fake-gamma", "fake-delta"}
    assert all(p["integrity"].startswith("sha512-") for p in names.values())
    # and the NOTICE names every style's licence and attribution, the licence files are copied
    notice = (out / "NOTICE.md").read_text()
    for style in TEST_STYLES:
        assert style.licence in notice and style.notice in notice
    assert "Unicode" in notice
    assert (out / "licenses" / "fake-beta-2.0.0" / "LICENSE.md").read_text() == \
        "licence of style 1"
    assert json.loads((out / "manifest.json").read_text())["splits"] == manifest["splits"]


def test_a_second_build_downloads_no_tarball_and_works_offline(tmp_path):
    # given one build from the registry
    with serving(make_registry()) as registry:
        library_build(out=tmp_path / "a", cache_dir=tmp_path / "cache", registry=registry.url,
                      styles=TEST_STYLES)
        first = sum(registry.downloads.values())
        # when built again with the same cache
        library_build(out=tmp_path / "b", cache_dir=tmp_path / "cache", registry=registry.url,
                      styles=TEST_STYLES)
        # then nothing more was downloaded
        assert first == 5 and sum(registry.downloads.values()) == 5
        dead = registry.url
    # and with the registry gone the cache (checked against the recorded checksums) suffices
    library_build(out=tmp_path / "c", cache_dir=tmp_path / "cache", registry=dead,
                  styles=TEST_STYLES)
    assert (tmp_path / "c" / "pairs_test.csv").read_bytes() == \
        (tmp_path / "a" / "pairs_test.csv").read_bytes()


def test_a_cached_file_altered_on_disk_is_fetched_again(tmp_path):
    # given a cached tarball changed after download
    with serving(make_registry()) as registry:
        package = NpmPackage("fake-alpha", "1.0.0")
        fetched = tarball_fetch(package, cache_dir=tmp_path, registry=registry.url)
        fetched.path.write_bytes(fetched.path.read_bytes()[:-10])
        # when fetched again
        again = tarball_fetch(package, cache_dir=tmp_path, registry=registry.url)
        # then it is downloaded anew and matches
        assert not again.from_cache and registry.downloads["fake-alpha"] == 2


def test_a_tarball_that_does_not_match_its_checksum_is_refused_and_not_cached(tmp_path):
    # given a registry serving other bytes than its checksum says
    registry = make_registry()
    registry.tamper.add("fake-gamma")
    with serving(registry):
        # when / then the fetch fails naming the package, and nothing is cached
        with pytest.raises(NpmError, match="fake-gamma@1.0.0: .* does not match"):
            tarball_fetch(NpmPackage("fake-gamma", "1.0.0"), cache_dir=tmp_path,
                          registry=registry.url)
    assert list(tmp_path.iterdir()) == []


def test_sha1_shasum_is_checked_when_the_registry_gives_no_integrity(tmp_path):
    # given an old package with only a sha1 shasum
    registry = make_registry()
    registry.shasum_only.add("fake-delta")
    with serving(registry):
        fetched = tarball_fetch(NpmPackage("fake-delta", "0.1.0"), cache_dir=tmp_path,
                                registry=registry.url)
        assert fetched.integrity.startswith("sha1-")
        registry.tamper.add("fake-delta")
        fetched.path.unlink()
        with pytest.raises(NpmError, match="does not match"):
            tarball_fetch(NpmPackage("fake-delta", "0.1.0"), cache_dir=tmp_path,
                          registry=registry.url)


def test_an_unknown_package_is_named(tmp_path):
    with serving(make_registry()) as registry, pytest.raises(NpmError, match="fake-none@9"):
        tarball_fetch(NpmPackage("fake-none", "9"), cache_dir=tmp_path, registry=registry.url)


def sticker(style: str, key: str, subgroup: str) -> LibrarySticker:
    concept = Concept(key=key, hexcode=key, label=key, subgroup=subgroup, group="g",
                      queries={"en": [key], "zh": [key]})
    return LibrarySticker(f"{style}_{key}.png", concept, style)


def test_each_sticker_gets_a_hard_negative_from_its_subgroup_and_a_random_one():
    # given two subgroups of three concepts, each in two styles
    stickers = [sticker(style, f"{group}{i}", group) for group in ("faces", "hearts")
                for i in range(3) for style in ("a", "b")]
    subgroup = {s.sticker_id: s.concept.subgroup for s in stickers}
    # when
    pairs = library_pairs(stickers, seed=0)
    # then every sticker has a negative in its own subgroup
    for s in stickers:
        partners = [p.sticker_id_2 if p.sticker_id == s.sticker_id else p.sticker_id
                    for p in pairs if p.label == 0 and s.sticker_id in p[:2]]
        assert any(subgroup[x] == s.concept.subgroup for x in partners)
    # and the positives are exactly the two styles of each concept
    assert sum(p.label for p in pairs) == 6
    # and the draw is seeded
    assert library_pairs(stickers, seed=0) == pairs != library_pairs(stickers, seed=1)


def test_split_concepts_is_seeded_and_disjoint():
    keys = [f"c{i}" for i in range(50)]
    a, b = split_concepts(keys, seed=4), split_concepts(keys, seed=4)
    assert a == b and split_concepts(keys, seed=5) != a
    assert [len(a[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    assert a["train"] | a["val"] | a["test"] == set(keys)


def test_a_split_without_both_classes_is_a_manifest_warning(tmp_path):
    # given a library of two concepts: one per split at most, so no negatives there
    with serving(make_registry()) as registry:
        manifest = library_build(out=tmp_path / "out", cache_dir=tmp_path / "cache",
                                 registry=registry.url, styles=TEST_STYLES, max_concepts=2)
    # then the manifest says which split cannot be scored and why
    assert any(w.startswith("test split:") and "no negative" in w
               for w in manifest["warnings"])


def test_the_library_is_scored_with_the_gse_protocol(built):
    # given the library folder
    out, _, _ = built
    snapshot = snapshot_pairs_load(out)
    # when a surface baseline is evaluated on it as on any Triple-S folder
    scores = evaluate_baselines(["pixels"], test=snapshot.test, val=snapshot.val,
                                resolver=folder_resolver(out / "images"))
    # then it gets a threshold from validation and an AUC on test
    assert scores["pixels"].threshold_source == "val"
    assert scores["pixels"].metrics["roc_auc"] is not None
