"""Training configuration of a GSE run: one dataclass, a comment on every field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real
from typing import Any

from core.errors import ApplicationError

PAIR_LOSS_KINDS = ("cosine_embedding", "contrastive")
# Bounds a run started from the page or the API must keep (the paper: 5 epochs, batch 32).
# 100 epochs of Triple-S's 765 train pairs is ~2,400 ViT-B-32 steps, hours on a CPU worker.
EPOCHS_MAX = 100
# 1,024 pairs embed up to 2,048 images per step: ~190 GB at ViT-B-32 / 224 px with AMP, past
# any single GPU; larger batches are a configuration mistake, not a wish.
BATCH_SIZE_MAX = 1024


INT_FIELDS = ("epochs", "batch_size", "warmup_steps", "seed", "num_workers")
FLOAT_FIELDS = ("lr", "weight_decay", "image_text_weight", "pair_weight")


class TrainConfigError(ApplicationError):
    """A training parameter of the wrong type or out of its bounds (names the field)."""

    subject = "train_config"


@dataclass
class TrainConfig:
    """Every knob of a GSE training run; defaults follow the paper (001, section 6.1.3)."""

    epochs: int = 5  # passes over the training pairs (paper: 5)
    lr: float = 1e-4  # peak AdamW learning rate after warm-up (paper: 1e-4)
    # Labelled pairs per step; a step embeds the unique stickers of its pairs, so up to
    # 2 * batch_size images: at ViT-B-32 / 224 px that is ~64 images, ~6 GB with AMP.
    batch_size: int = 32  # paper: 32
    weight_decay: float = 0.1  # AdamW decay on weight matrices only (not gains, biases, scale)
    warmup_steps: int = 10  # linear warm-up from 0 to lr, then cosine decay to 0
    image_text_weight: float = 1.0  # weight of the CLIP image<->query-text loss; 0 switches off
    pair_weight: float = 1.0  # weight of the image-image pair loss; 0 switches it off
    # "cosine_embedding": positives pull to cosine 1 (1 - cos), negatives push below margin
    # (relu(cos - margin)); "contrastive": the same terms squared (softer near the target).
    pair_loss: str = "cosine_embedding"
    pair_margin: float = 0.2  # cosine above which a negative pair is penalised
    grad_clip: float = 0.0  # max global gradient norm; 0 = off (open_clip_train default)
    # Random affine of each training still at every step (rotation, shift, scale, white fill;
    # no flips or colour changes: direction and colour carry meaning, e.g. hearts, arrows).
    augment: bool = False
    # Freeze a pretrained text tower (e.g. all-MiniLM-L6-v2 as an OpenCLIP HF text tower): only
    # its projection learns, so a few hundred labelled stickers cannot wreck the pretrained text.
    lock_text_tower: bool = False
    device: str = ""  # "cuda", "cpu", ...; "" picks cuda when present, else cpu
    amp: bool = True  # fp16 autocast + GradScaler on CUDA; ignored on CPU (fp32 there)
    seed: int = 0  # seeds torch, the pair shuffle and the per-step query choice
    num_workers: int = -1  # DataLoader workers; -1: 4 on CUDA, 0 on CPU (reproducible order)
    # Extra pair files in the Triple-S format (sticker_id,sticker_id_2,label) added to the
    # training pairs (the paper added MultiChat-derived pairs); images looked up like the rest.
    extra_pairs: list[str] = field(default_factory=list)
    extra_images_dirs: list[str] = field(default_factory=list)  # where extra pairs' images live

    def __post_init__(self) -> None:
        # A campaign's stored train_config is JSON anyone with the admin could have edited:
        # types first, so a bound check never meets a string (a TypeError would be a 500).
        for name in INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral):
                raise TrainConfigError(name, f"must be an integer, got {value!r}")
        for name in FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TrainConfigError(name, f"must be a number, got {value!r}")
        if self.pair_loss not in PAIR_LOSS_KINDS:
            raise TrainConfigError("pair_loss", f"{self.pair_loss!r} is not one of "
                                                f"{PAIR_LOSS_KINDS}")
        if self.image_text_weight < 0 or self.pair_weight < 0:
            raise TrainConfigError("image_text_weight / pair_weight", "weights must be >= 0")
        if self.image_text_weight == 0 and self.pair_weight == 0:
            raise TrainConfigError("image_text_weight, pair_weight",
                                   "both are 0, nothing to train")
        if not 1 <= self.epochs <= EPOCHS_MAX:
            raise TrainConfigError("epochs", f"must be 1..{EPOCHS_MAX}, got {self.epochs}")
        if not 1 <= self.batch_size <= BATCH_SIZE_MAX:
            raise TrainConfigError("batch_size",
                                   f"must be 1..{BATCH_SIZE_MAX}, got {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        """The exact config as JSON-ready data (recorded on the model version)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Builds a config from a dict, ignoring keys that are not fields (e.g. notes)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
