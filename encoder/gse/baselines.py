"""Surface baselines: what similarity of pixels alone gets (pure NumPy + PIL + imagehash).

The paper's point (001, section 1) is that two stickers can look alike and mean different
things. A GSE gain therefore counts only against what surface similarity already gets, so every
report scores these beside the GSE with exactly its protocol (threshold tuned on validation,
metrics on test, Recall@k). Each baseline maps a still to a unit vector whose cosine is the
pair score, so it goes through the same code as a model (``evaluate.evaluate_embedder``):

- ``pixels``: the still at 32x32 RGB, flattened and mean-centred per image; the cosine is then
  the Pearson correlation of the two thumbnails.
- ``histogram``: an RGB colour histogram (8 bins per channel, 512 cells) over the still.
- ``dhash`` / ``phash``: imagehash's 64-bit difference / perceptual hash. As +-1 vectors over
  sqrt(64) their cosine is 1 - 2 Hamming/64; the pair score is mapped to 1 - Hamming/64 (the
  usual hash similarity; a monotone map, so AUC, the tuned F1 and Recall@k are unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from encoder.gse.data import load_still

PIXEL_SIDE = 32  # thumbnail side of the raw-pixel baseline (32 x 32 x 3 = 3,072 values)
HISTOGRAM_BINS = 8  # per RGB channel: 8^3 = 512 cells, coarse enough for a few pixels' shift
HASH_SIZE = 8  # imagehash's default: an 8 x 8 = 64-bit hash


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; an all-zero row (a flat image, mean-centred) stays zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def pixel_vector(image: Image.Image) -> np.ndarray:
    """(3072,) the 32x32 RGB thumbnail, mean-centred (not yet unit length)."""
    small = image.convert("RGB").resize((PIXEL_SIDE, PIXEL_SIDE), Image.Resampling.BILINEAR)
    values = np.asarray(small, dtype=np.float64).reshape(-1) / 255.0
    return values - values.mean()


def histogram_vector(image: Image.Image) -> np.ndarray:
    """(512,) counts of the still's pixels per (R, G, B) cell, 8 levels per channel."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int64).reshape(-1, 3)  # (H*W, 3)
    cells = rgb * HISTOGRAM_BINS // 256  # (H*W, 3) in 0..7
    index = (cells[:, 0] * HISTOGRAM_BINS + cells[:, 1]) * HISTOGRAM_BINS + cells[:, 2]
    return np.bincount(index, minlength=HISTOGRAM_BINS**3).astype(np.float64)


def _hash_vector(hasher: Callable[..., imagehash.ImageHash]) -> Callable[[Image.Image], np.ndarray]:
    def vector(image: Image.Image) -> np.ndarray:
        bits = np.asarray(hasher(image.convert("RGB"), hash_size=HASH_SIZE).hash).reshape(-1)
        return np.where(bits, 1.0, -1.0)  # (64,) +-1: unit length once divided by 8

    return vector


def hash_similarity(cosine: np.ndarray) -> np.ndarray:
    """1 - Hamming/64 from the cosine of two +-1 hash vectors (cos = 1 - 2 Hamming/64)."""
    return (1.0 + np.asarray(cosine, dtype=np.float64)) / 2.0


@dataclass(frozen=True)
class SurfaceBaseline:
    """A scorer with no learning: a vector per still, cosine (then ``to_score``) per pair."""

    name: str
    description: str
    vector: Callable[[Image.Image], np.ndarray]  # still -> (D,) float vector
    to_score: Callable[[np.ndarray], np.ndarray] | None = None  # cosines -> pair scores

    def embed(self, sticker_ids: Sequence[str], paths: Mapping[str, Path]) -> np.ndarray:
        """(N, D) unit vectors in ``sticker_ids`` order (an embedder, as a model's)."""
        if not sticker_ids:
            return np.zeros((0, 1), np.float32)
        return _unit_rows(np.stack([self.vector(load_still(paths[s])) for s in sticker_ids]))


SURFACE_BASELINES: dict[str, SurfaceBaseline] = {
    b.name: b for b in (
        SurfaceBaseline("pixels", "raw pixels, 32x32 RGB, mean-centred, cosine", pixel_vector),
        SurfaceBaseline("histogram", "RGB colour histogram (8^3 bins), cosine",
                        histogram_vector),
        SurfaceBaseline("dhash", "difference hash (64 bit), 1 - Hamming/64",
                        _hash_vector(imagehash.dhash), hash_similarity),
        SurfaceBaseline("phash", "perceptual (DCT) hash (64 bit), 1 - Hamming/64",
                        _hash_vector(imagehash.phash), hash_similarity),
    )
}


def pair_similarity(name: str, a: Image.Image, b: Image.Image) -> float:
    """The score baseline ``name`` gives two images (what one pair of the protocol gets)."""
    baseline = SURFACE_BASELINES[name]
    va, vb = _unit_rows(np.stack([baseline.vector(a), baseline.vector(b)]))
    cosine = np.asarray([float(va @ vb)])
    return float((baseline.to_score or (lambda c: c))(cosine)[0])
