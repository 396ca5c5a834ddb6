"""Loading an OpenCLIP encoder and embedding sticker stills and query texts (no Django here).

An encoder is named by an :class:`EncoderSpec`: an OpenCLIP model name (``ViT-B-32``) or the
path of a model-config JSON file, plus ``pretrained``: an OpenCLIP hub tag, the path of a local
checkpoint file, or empty for a (seeded) random initialisation. A local checkpoint goes through
open_clip's own ``pretrained=`` argument, the same code path as a hub tag, so the tiny models
the tests save and load exercise exactly what loads real weights.

Every embedding is recorded with the encoder's ``version``: a hash of the model config and of
the pretrained identity (the tag, or the sha256 of the checkpoint file), so two machines that
load the same weights agree on the id and a changed checkpoint file gets a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image

from encoder.retrieval import pick_device
from encoder.spec import EncoderError, EncoderSpec

logger = logging.getLogger(__name__)

# Random initialisation is seeded so that "no pretrained weights" is still one fixed set of
# weights, which the version id can name.
RANDOM_INIT_SEED = 0
HUB_PROBE_TIMEOUT_S = 3.0  # how long to wait for the hub's TCP port before calling it offline


@dataclass
class LoadedEncoder:
    """A ready-to-use OpenCLIP model in eval mode with its image transform and tokenizer."""

    model: torch.nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]  # PIL image -> (3, H, W) float tensor
    tokenizer: Callable[[list[str]], torch.Tensor]  # texts -> (B, context_length) token ids
    device: torch.device
    version: str  # hash of model config + pretrained identity (see module docstring)
    model_name: str  # the OpenCLIP name it was created under
    model_config: dict[str, Any]
    pretrained_identity: str  # "random-init:seed=0", "tag:<tag>" or "sha256:<file hash>"


def _looks_like_path(value: str) -> bool:
    return (
        os.sep in value
        or value.endswith((".json", ".pt", ".pth", ".bin", ".safetensors", ".ckpt"))
        or Path(value).exists()
    )


def resolve_model(model: str, model_config: dict[str, Any] | None = None) -> tuple[str, dict]:
    """Returns ``(open_clip name, config)`` for a model name or a model-config JSON path.

    A JSON path is registered with ``open_clip.add_model_config`` under its file stem.
    """
    import open_clip

    if not model:
        raise EncoderError("GSE_MODEL is empty: set an OpenCLIP model name or a config JSON path")
    if model.endswith(".json") or Path(model).is_file():
        path = Path(model)
        if not path.is_file():
            raise EncoderError(f"GSE_MODEL config file not found: {path}")
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise EncoderError(f"GSE_MODEL config file {path} is not valid JSON: {e}") from e
        if not isinstance(config, dict) or "vision_cfg" not in config:
            raise EncoderError(f"GSE_MODEL config file {path} has no 'vision_cfg': not a model")
        open_clip.add_model_config(path)
        return path.stem, config
    config = open_clip.get_model_config(model)
    if config is None and model_config:
        _register_config(model, model_config)
        config = open_clip.get_model_config(model)
    if config is None:
        raise EncoderError(
            f"GSE_MODEL {model!r} is not an OpenCLIP model name (open_clip.list_models()) "
            "nor the path of a model-config JSON file"
        )
    return model, config


def _register_config(name: str, config: dict[str, Any]) -> None:
    """Registers a config dict under ``name`` through a JSON file, as open_clip expects."""
    import tempfile

    import open_clip

    folder = Path(tempfile.mkdtemp(prefix="openclip-config-"))
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, read in 1 MiB blocks (checkpoints are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained_identity(model_name: str, pretrained: str) -> str:
    """What the weights are: a random init, a hub tag, or a checkpoint file by its content."""
    import open_clip

    if not pretrained:
        return f"random-init:seed={RANDOM_INIT_SEED}"
    if open_clip.get_pretrained_cfg(model_name, pretrained):
        return f"tag:{pretrained}"
    path = Path(pretrained)
    if path.is_file():
        return f"sha256:{file_sha256(path)}"
    if _looks_like_path(pretrained):
        raise EncoderError(f"GSE_PRETRAINED checkpoint file not found: {pretrained}")
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    raise EncoderError(
        f"GSE_PRETRAINED {pretrained!r} is neither a pretrained tag of {model_name} "
        f"(known: {tags}) nor an existing checkpoint file"
    )


def version_id(model_name: str, config: dict[str, Any], identity: str) -> str:
    """``<model name>-<24 hex>``: hash of the canonical config JSON and the weights' identity."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{canonical}\n{identity}".encode()).hexdigest()[:24]
    return f"{model_name[:80]}-{digest}"


def spec_version(spec: EncoderSpec) -> tuple[str, dict[str, Any], str, str]:
    """``(model name, config, pretrained identity, version)`` without building the model."""
    name, config = resolve_model(spec.model, spec.model_config)
    identity = pretrained_identity(name, spec.pretrained)
    return name, config, identity, version_id(name, config, identity)


def _hub_reachable() -> bool:
    try:
        from huggingface_hub import constants

        host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
        with socket.create_connection((host, 443), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _hub_offline_unless_reachable(is_tag: bool) -> Iterator[None]:
    """Offline mode for huggingface_hub when a hub tag is asked for and the hub can't be
    reached, so a missing network fails at once (or loads from the local cache) instead of
    after a minute of retries. Local files and random init never probe the network."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    if is_tag and not saved and not _hub_reachable():
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


class _OpenClipToDebug(logging.Filter):
    """Demotes open_clip's chatter to DEBUG.

    open_clip logs through the root logger (``logging.info(...)``), a dozen INFO lines per
    load ("Loaded ... model config", "Instantiating model architecture", ...), and warns
    "No pretrained weights loaded ... initialized randomly" even when a random init is what
    was asked for. They are kept only where the logger is at DEBUG (LOG_LEVEL=DEBUG). Its other
    warnings (a partially loaded model) are kept: they are news.
    """

    def __init__(self, random_init: bool) -> None:
        super().__init__()
        self.random_init = random_init

    def filter(self, record: logging.LogRecord) -> bool:
        from_open_clip = f"{os.sep}open_clip{os.sep}" in record.pathname
        expected = self.random_init and "No pretrained weights loaded" in record.getMessage()
        if from_open_clip and (record.levelno < logging.WARNING or expected):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            # The logger's level was checked before the demotion: check it again.
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


@contextlib.contextmanager
def _open_clip_logs_quieted(random_init: bool) -> Iterator[None]:
    root = logging.getLogger()
    quiet = _OpenClipToDebug(random_init)
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def load_encoder(spec: EncoderSpec) -> LoadedEncoder:
    """Builds the model with its weights; raises :class:`EncoderError` naming what to fix."""
    import open_clip

    name, config, identity, version = spec_version(spec)
    device = pick_device(spec.device)
    is_tag = identity.startswith("tag:")
    try:
        with (torch.random.fork_rng(devices=[]), _hub_offline_unless_reachable(is_tag),
              _open_clip_logs_quieted(random_init=not spec.pretrained)):
            torch.manual_seed(RANDOM_INIT_SEED)
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=spec.pretrained or None, device=device
            )
            tokenizer = open_clip.get_tokenizer(name)
    except Exception as e:  # open_clip raises RuntimeError / FileNotFoundError / KeyError
        raise EncoderError(_load_failure(spec, name, is_tag, e)) from e
    model.eval()
    return LoadedEncoder(
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        device=device,
        version=version,
        model_name=name,
        model_config=config,
        pretrained_identity=identity,
    )


def _load_failure(spec: EncoderSpec, name: str, is_tag: bool, error: Exception) -> str:
    """One line that names the settings and says what went wrong."""
    head = f"GSE_MODEL={spec.model} GSE_PRETRAINED={spec.pretrained or '(none)'}"
    detail = " ".join(str(error).split())[:300]
    if is_tag:
        return (f"{head}: pretrained tag {spec.pretrained!r} could not be fetched (no network "
                f"to the hub and not in its local cache?): {detail}")
    if spec.pretrained:
        return f"{head}: checkpoint {spec.pretrained!r} does not load into {name}: {detail}"
    return f"{head}: model {name} could not be built: {detail}"


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """fp16 autocast on CUDA (twice the throughput, embeddings are renormalised in fp32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def embed_images(
    encoder: LoadedEncoder, images: Iterable[Image.Image], batch_size: int = 64
) -> np.ndarray:
    """(N, D) float32, L2-normalised image embeddings, in input order.

    ``batch_size`` images are decoded and on the device at once: for ViT-B-32 at 224 px a batch
    of 64 is 64 * 3 * 224 * 224 * 4 B = 38 MB of pixels plus activations (~1 GB in fp16).
    """

    def encode(batch: list[Image.Image]) -> torch.Tensor:
        pixels = torch.stack([encoder.preprocess(im.convert("RGB")) for im in batch])  # (B,3,H,W)
        return encoder.model.encode_image(pixels.to(encoder.device))  # (B, D)

    return _embed_batches(encoder, images, batch_size, encode)


def embed_texts(encoder: LoadedEncoder, texts: Iterable[str], batch_size: int = 256) -> np.ndarray:
    """(N, D) float32, L2-normalised text embeddings from the CLIP text tower, in input order.

    A batch is ``batch_size`` x context_length (77) token ids: 256 texts are 79 KB of ids.
    """

    def encode(batch: list[str]) -> torch.Tensor:
        tokens = encoder.tokenizer(batch).to(encoder.device)  # (B, L)
        return encoder.model.encode_text(tokens)  # (B, D)

    return _embed_batches(encoder, texts, batch_size, encode)


@torch.no_grad()
def _embed_batches(
    encoder: LoadedEncoder, items: Iterable[Any], batch_size: int,
    encode: Callable[[list[Any]], torch.Tensor],
) -> np.ndarray:
    """Runs ``encode`` (a batch -> (B, D) features) batch by batch; (N, D) unit float32 rows."""
    out: list[np.ndarray] = []
    for batch in _batched(items, batch_size):
        with _autocast(encoder.device):
            feats = encode(batch)  # (B, D)
        feats = torch.nn.functional.normalize(feats.float(), dim=-1)  # (B, D)
        out.append(feats.cpu().numpy())
    dim = int(encoder.model_config.get("embed_dim", 0))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)
