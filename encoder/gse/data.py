"""GSE data: Triple-S pair CSVs, sticker stills with their query texts, batches of pairs.

A training step takes ``batch_size`` labelled pairs, embeds the unique stickers they name
once, and uses them twice: against one query text per sticker (CLIP loss) and pairwise (pair
loss). The pair order of an epoch and the query picked per sticker come from
``numpy.random.default_rng([seed, epoch, step])``, so a run is the same on any worker count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from core.errors import ApplicationError

PAIRS_HEADER = ["sticker_id", "sticker_id_2", "label"]
SPLITS = ("train", "val", "test")
# Preprocessed pixels kept in memory per process: 3 x 224 x 224 x 4 B = 600 KB a ViT-B-32
# still, so 512 MB holds ~850 of them; tiny 32 px test models fit thousands.
PIXEL_CACHE_BYTES = 512 * 1024 * 1024

ImageResolver = Callable[[str], Path | None]  # sticker_id -> still path, None if unknown


class GseDataError(ApplicationError):
    """Data a user can fix; the message names the file, split or row first. The project's one
    error type (``core.errors``, Django-free), not a ``ValueError``: a bug is never taken for
    bad data."""

    subject = "data"


class PairRow(NamedTuple):
    sticker_id: str
    sticker_id_2: str
    label: int  # 1 positive, 0 negative


def read_pairs_csv(path: str | Path, *, split: str = "") -> list[PairRow]:
    """Reads a Triple-S pair file; raises :class:`GseDataError` naming the file and row."""
    path = Path(path)
    name = f"{path} (split {split!r})" if split else str(path)
    if not path.is_file():
        raise GseDataError(f"{name}: pair file not found")
    rows: list[PairRow] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != PAIRS_HEADER:
            raise GseDataError(f"{name}: header must be {','.join(PAIRS_HEADER)}, got {header}")
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3 or row[2].strip() not in ("0", "1"):
                raise GseDataError(f"{name} row {line}: expected id,id,0|1, got {row}")
            rows.append(PairRow(row[0].strip(), row[1].strip(), int(row[2])))
    if not rows:
        raise GseDataError(f"{name}: the split is empty (no pairs)")
    return rows


def read_queries_csv(path: str | Path) -> dict[str, list[str]]:
    """StickerQueries format ``sticker_id,labeled_queries`` (comma-separated queries)."""
    out: dict[str, list[str]] = {}
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            texts = row.get("labeled_queries", "").replace("，", ",").split(",")
            queries = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
            out.setdefault(row["sticker_id"], []).extend(queries)
    return out


@dataclass
class SnapshotPairs:
    """The three splits of a Triple-S snapshot folder."""

    folder: Path
    train: list[PairRow]
    val: list[PairRow]
    test: list[PairRow]


def snapshot_pairs_load(folder: str | Path) -> SnapshotPairs:
    """Reads ``pairs_{train,val,test}.csv``; an empty or missing split is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GseDataError(f"{folder}: snapshot folder not found")
    splits = {s: read_pairs_csv(folder / f"pairs_{s}.csv", split=s) for s in SPLITS}
    return SnapshotPairs(folder=folder, **splits)


def folder_resolver(*folders: str | Path) -> ImageResolver:
    """Looks a sticker up as ``<folder>/<sticker_id>`` in each folder in turn."""
    roots = [Path(f) for f in folders]

    def resolve(sticker_id: str) -> Path | None:
        for root in roots:
            path = root / sticker_id
            if path.is_file():
                return path
        return None

    return resolve


def resolve_images(
    sticker_ids: Iterable[str], resolver: ImageResolver, *, where: str
) -> dict[str, Path]:
    """Every sticker's image path; the first missing one raises, naming it and ``where``."""
    paths: dict[str, Path] = {}
    for sid in sticker_ids:
        if sid in paths:
            continue
        path = resolver(sid)
        if path is None or not path.is_file():
            raise GseDataError(f"{where}: image for sticker {sid!r} not found ({path or sid})")
        paths[sid] = path
    return paths


def pair_sticker_ids(pairs: Iterable[PairRow]) -> list[str]:
    """Sticker ids named by the pairs, in first-seen order."""
    return list(dict.fromkeys(s for p in pairs for s in (p.sticker_id, p.sticker_id_2)))


# A webm read for its still: the same limits as an import's defaults, generous for evaluation.
VIDEO_STILL_LIMITS = {"max_bytes": 50_000_000, "max_pixels": 4096 * 4096, "max_frames": 10_000}


def load_still(path: Path) -> Image.Image:
    """The first frame of an image file as RGB (gif/webp animations: frame 0).

    A file Pillow cannot open (a webm video sticker, a third of real ones, as in the public
    Triple-S images) gets the platform's own still (first frame on white, ``media_probe``), so
    a pair folder of original files can be evaluated as it is.
    """
    try:
        with Image.open(path) as image:
            image.seek(0)
            return image.convert("RGB")
    except (OSError, ValueError) as e:
        from annotation.media import MediaLimits, media_probe

        try:
            probed = media_probe(Path(path).read_bytes(), name=str(path),
                                 limits=MediaLimits(**VIDEO_STILL_LIMITS))
            return Image.open(io.BytesIO(probed.still_png)).convert("RGB")
        except (OSError, ValueError):
            pass
        raise GseDataError(f"{path}: not a readable image ({e}); give the sticker's still") from e


class StickerPixels:
    """Preprocessed pixels by sticker id, cached in memory up to ``PIXEL_CACHE_BYTES``."""

    def __init__(
        self, paths: Mapping[str, Path], preprocess: Callable[[Image.Image], torch.Tensor]
    ) -> None:
        self.paths = dict(paths)
        self.preprocess = preprocess
        self._cache: dict[str, torch.Tensor] = {}
        self._cached_bytes = 0

    def __call__(self, sticker_id: str) -> torch.Tensor:
        """(3, H, W) float pixels of one sticker."""
        hit = self._cache.get(sticker_id)
        if hit is not None:
            return hit
        pixels = self.preprocess(load_still(self.paths[sticker_id]))
        size = pixels.numel() * pixels.element_size()
        if self._cached_bytes + size <= PIXEL_CACHE_BYTES:
            self._cache[sticker_id] = pixels
            self._cached_bytes += size
        return pixels

    def batch(self, sticker_ids: Sequence[str]) -> torch.Tensor:
        """(B, 3, H, W) pixels in the given order."""
        return torch.stack([self(s) for s in sticker_ids])


# RECONSTRUCTED (load/errors helper, 23:05 UTC): this file's uncommitted edits were lost when
# it was truncated by mistake; the constants and __init__ below are the lost text as far as it
# was seen in a diff, __call__ is rebuilt. Check against your version before committing.
# Augmentation of training stills (``TrainConfig.augment``): small enough that a sticker stays
# itself, large enough that two drawings of a concept cannot be matched by pixel position.
AUGMENT_DEGREES = 15.0
AUGMENT_TRANSLATE = 0.1  # fraction of the side
AUGMENT_SCALE = (0.8, 1.1)


class AugmentedStickerPixels(StickerPixels):
    """Training pixels with a fresh random affine per call; the decoded still is cached.

    Randomness comes from torch's global generator, seeded by the training loop, so a CPU run
    (no DataLoader workers) is reproducible.
    """

    def __init__(
        self, paths: Mapping[str, Path], preprocess: Callable[[Image.Image], torch.Tensor]
    ) -> None:
        super().__init__(paths, preprocess)
        from torchvision.transforms import RandomAffine

        self._stills: dict[str, Image.Image] = {}
        self.transform = RandomAffine(degrees=AUGMENT_DEGREES,
                                      translate=(AUGMENT_TRANSLATE, AUGMENT_TRANSLATE),
                                      scale=AUGMENT_SCALE, fill=(255, 255, 255))

    def __call__(self, sticker_id: str) -> torch.Tensor:
        """(3, H, W) float pixels of one sticker, freshly transformed."""
        still = self._stills.get(sticker_id)
        if still is None:
            still = self._stills[sticker_id] = load_still(self.paths[sticker_id])
        return self.preprocess(self.transform(still))


class PairBatches(Dataset):
    """Item ``i`` of an epoch is one training step: pixels, query tokens and pair indices.

    Use with ``DataLoader(batch_size=None)``; call :meth:`set_epoch` before each epoch.
    """

    def __init__(
        self, pairs: Sequence[PairRow], pixels: StickerPixels,
        queries: Mapping[str, Sequence[str]], tokenizer: Callable[[list[str]], torch.Tensor],
        *, batch_size: int, seed: int,
    ) -> None:
        if not pairs:
            raise GseDataError("training split: no pairs to train on")
        self.pairs = list(pairs)
        self.pixels = pixels
        self.queries = {k: list(v) for k, v in queries.items() if v}
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Shuffles the pairs for ``epoch`` (deterministic in seed and epoch)."""
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.pairs))

    def __len__(self) -> int:
        return (len(self.pairs) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rows = [self.pairs[i] for i in self.order[step * self.batch_size:][: self.batch_size]]
        ids = pair_sticker_ids(rows)  # the U unique stickers of this step
        index = {sid: i for i, sid in enumerate(ids)}
        rng = np.random.default_rng([self.seed, self.epoch, step])
        with_text = [i for i, sid in enumerate(ids) if sid in self.queries]
        texts = [self.queries[ids[i]][rng.integers(len(self.queries[ids[i]]))] for i in with_text]
        return {
            "pixels": self.pixels.batch(ids),  # (U, 3, H, W)
            "tokens": self.tokenizer(texts) if texts else torch.zeros(0, 1, dtype=torch.long),
            "text_image_index": torch.tensor(with_text, dtype=torch.long),  # (T,)
            "pair_a": torch.tensor([index[p.sticker_id] for p in rows]),  # (P,)
            "pair_b": torch.tensor([index[p.sticker_id_2] for p in rows]),  # (P,)
            "labels": torch.tensor([p.label for p in rows], dtype=torch.float32),  # (P,)
        }
