"""GSE loss: CLIP contrastive loss between sticker stills and their query texts, plus an
image-image loss on the snapshot's labelled pairs; each part weighted, either switchable off.

The paper (001, 4.1) trains with the CLIP loss only and pairs enter through the data; we add
the pair term because our snapshots carry explicit negatives, and keep ``pair_weight=0`` as the
paper's setting (its ablation, section 6.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss
from torch import nn


def pair_loss(
    a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, *, kind: str, margin: float
) -> torch.Tensor:
    """Mean loss over P pairs of unit vectors ``a``, ``b`` (P, D) with labels (P,) in {0, 1}.

    Positives are pulled to cosine 1; negatives are pushed below ``margin``.
    """
    cos = (a * b).sum(dim=-1)  # (P,)
    pos = 1.0 - cos  # (P,)
    neg = F.relu(cos - margin)  # (P,)
    if kind == "contrastive":
        pos, neg = pos.pow(2), neg.pow(2)
    y = labels.to(cos.dtype)
    return (y * pos + (1.0 - y) * neg).mean()


@dataclass
class LossParts:
    """The weighted total and its unweighted parts (0 when a part is off or has no data)."""

    total: torch.Tensor
    image_text: float
    pair: float


class GseLoss(nn.Module):
    """``image_text_weight * ClipLoss + pair_weight * pair_loss``."""

    def __init__(
        self, *, image_text_weight: float = 1.0, pair_weight: float = 1.0,
        pair_kind: str = "cosine_embedding", margin: float = 0.2,
    ) -> None:
        super().__init__()
        self.image_text_weight = image_text_weight
        self.pair_weight = pair_weight
        self.pair_kind = pair_kind
        self.margin = margin
        self.clip_loss = ClipLoss()

    def forward(
        self,
        image_features: torch.Tensor,  # (U, D) unit image features of the step's stickers
        text_features: torch.Tensor | None,  # (T, D) unit features of one query per sticker
        text_image_index: torch.Tensor,  # (T,) row of image_features each text belongs to
        logit_scale: torch.Tensor,  # scalar
        pair_a: torch.Tensor,  # (P,) rows of image_features
        pair_b: torch.Tensor,  # (P,)
        labels: torch.Tensor,  # (P,) 1 positive, 0 negative
    ) -> LossParts:
        zero = image_features.new_zeros(())
        total = zero
        it_value = pair_value = 0.0
        if self.image_text_weight > 0 and text_features is not None and len(text_features) > 1:
            it = self.clip_loss(image_features[text_image_index], text_features, logit_scale)
            total = total + self.image_text_weight * it
            it_value = float(it.detach())
        if self.pair_weight > 0 and len(labels) > 0:
            pl = pair_loss(image_features[pair_a], image_features[pair_b], labels,
                           kind=self.pair_kind, margin=self.margin)
            total = total + self.pair_weight * pl
            pair_value = float(pl.detach())
        return LossParts(total=total, image_text=it_value, pair=pair_value)
