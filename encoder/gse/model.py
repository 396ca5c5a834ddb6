"""The GSE model: an OpenCLIP model whose encoders return L2-normalised features.

Loading goes through :func:`encoder.openclip.load_encoder` (a model name or a model-config
JSON path, plus a hub tag, a local checkpoint or nothing for a seeded random init), so a GSE
checkpoint saved here loads anywhere an OpenCLIP checkpoint does: ``pretrained=<file>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from encoder.openclip import EncoderSpec, LoadedEncoder, load_encoder

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps its temperature at 100 (as open_clip_train)


class GseModel(nn.Module):
    """An OpenCLIP model plus what it needs to read stickers: transform and tokenizer."""

    def __init__(self, loaded: LoadedEncoder) -> None:
        super().__init__()
        self.clip = loaded.model
        self.preprocess: Callable[[Image.Image], torch.Tensor] = loaded.preprocess
        self.tokenizer: Callable[[list[str]], torch.Tensor] = loaded.tokenizer
        self.model_name = loaded.model_name
        self.model_config: dict[str, Any] = loaded.model_config
        self.base_version = loaded.version
        self.pretrained_identity = loaded.pretrained_identity
        # Pooled outputs of a frozen HF text tower by token row: None unless the tower is
        # locked (see lock_text_tower). ~8 k CLDR texts x 384 floats = 12 MB for MiniLM.
        self._frozen_text: dict[bytes, torch.Tensor] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.clip.parameters()).device

    @property
    def image_size(self) -> int:
        size = self.model_config["vision_cfg"].get("image_size", 224)
        return int(size if isinstance(size, int) else size[0])

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) pixels -> (B, D) unit-length image features."""
        return F.normalize(self.clip.encode_image(pixels), dim=-1)

    def encode_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        """(T, L) token ids -> (T, D) unit-length text features."""
        if self._frozen_text is None:
            return F.normalize(self.clip.encode_text(tokens), dim=-1)
        return F.normalize(self.clip.text.proj(self._frozen_pooled(tokens)), dim=-1)

    @torch.no_grad()
    def _frozen_pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """(T, L) token ids -> (T, H) pooled outputs of the frozen HF transformer, each text
        computed once (in eval mode: no dropout in a tower that does not learn)."""
        cache = self._frozen_text
        assert cache is not None
        keys = [row.cpu().numpy().tobytes() for row in tokens]
        first = {key: i for i, key in reversed(list(enumerate(keys)))}  # key -> first row
        missing = [key for key in first if key not in cache]
        if missing:
            text = self.clip.text
            rows = tokens[[first[key] for key in missing]]  # (M, L)
            was_training = text.transformer.training
            text.transformer.eval()
            mask = (rows != text.config.pad_token_id).long()  # (M, L)
            pooled = text.pooler(text.transformer(input_ids=rows, attention_mask=mask), mask)
            text.transformer.train(was_training)
            cache.update(zip(missing, pooled, strict=True))  # key -> (H,)
        return torch.stack([cache[key] for key in keys])  # (T, H)

    def logit_scale(self) -> torch.Tensor:
        """exp of CLIP's learned temperature, a scalar tensor."""
        return self.clip.logit_scale.exp()

    def lock_text_tower(self) -> None:
        """Freezes the text tower's weights except its projection to the shared space
        (OpenCLIP's ``lock_text_tower``; for an HF tower the projection stays trainable).

        A frozen HF tower (e.g. all-MiniLM-L6-v2) gives the same pooled output for a text at
        every step, so it is computed once per text: on a CPU the 6-layer transformer was
        most of a step's time.
        """
        self.clip.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
        text = getattr(self.clip, "text", None)
        if hasattr(text, "pooler") and hasattr(text, "transformer"):
            self._frozen_text = {}

    def clamp_logit_scale(self) -> None:
        """Keeps the temperature in CLIP's range after an optimiser step."""
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)


def gse_model_load(
    model: str, pretrained: str = "", device: str = "", model_config: dict | None = None
) -> GseModel:
    """Loads a model by name or config JSON path with a hub tag / checkpoint path / nothing.

    Raises :class:`encoder.openclip.EncoderError` naming the setting or file to fix.
    """
    loaded = load_encoder(
        EncoderSpec(model=model, pretrained=pretrained, device=device, model_config=model_config)
    )
    return GseModel(loaded)


def gse_checkpoint_save(model: GseModel, path: str | Path) -> Path:
    """Saves the weights as an OpenCLIP checkpoint (``{"state_dict": ...}``), fp32, on CPU.

    The file loads back through ``open_clip``'s ``pretrained=<path>``, like any checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu()
             for k, v in model.clip.state_dict().items()}
    torch.save({"state_dict": state}, path)
    return path
