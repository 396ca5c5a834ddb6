"""What names an image encoder, and the error when one cannot be loaded.

No torch here: the web processes import these (the training API builds a spec from the
settings, the views answer an :class:`EncoderError`) and never load a model themselves.
``encoder.openclip`` turns a spec into a loaded model in a worker or a command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ApplicationError


class EncoderError(ApplicationError):
    """An encoder that cannot be loaded, with a message naming the setting or file to fix.

    The project's one error type (``core.errors``): the API answers it with a 400, commands
    print it as one line."""

    subject = "encoder"


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder to load; mirrors the GSE_MODEL / GSE_PRETRAINED / GSE_DEVICE settings."""

    model: str  # OpenCLIP model name (e.g. "ViT-B-32") or path of a model-config JSON file
    pretrained: str = ""  # hub tag, path of a local checkpoint file, or "" for random init
    device: str = ""  # "cuda", "cpu", ...; "" picks cuda when present, else cpu
    # The model config to register when ``model`` is a name this process does not know (an
    # EncoderVersion row carries it, so a worker can load a model registered elsewhere).
    model_config: dict[str, Any] | None = field(default=None, compare=False)
