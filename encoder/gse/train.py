"""The GSE training loop: AdamW, linear warm-up then cosine decay, AMP on CUDA.

Reproducible on CPU: the model init is seeded (``encoder.openclip``), the pair order and query
choice come from seeded NumPy generators (``data.PairBatches``), the DataLoader has no workers
on CPU, and ``torch.manual_seed`` fixes everything else.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from encoder.gse.config import TrainConfig
from encoder.gse.data import PairBatches
from encoder.gse.loss import GseLoss
from encoder.gse.model import GseModel

StepCallback = Callable[[int, int, float], None]  # (step done, total steps, loss)


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_lr(base_lr: float, warmup_steps: int, step: int) -> float:
    """Linear ramp: step 0 gets base_lr / warmup_steps, step warmup_steps - 1 gets base_lr."""
    return base_lr * (step + 1) / warmup_steps


def cosine_lr(base_lr: float, warmup_steps: int, total_steps: int, step: int) -> float:
    """Warm-up, then half a cosine from base_lr down to 0 at total_steps."""
    if step < warmup_steps:
        return warmup_lr(base_lr, warmup_steps, step)
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress)) * base_lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def build_optimizer(model: GseModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with decay on weight matrices only; gains, biases, embeddings' scale are exempt.

    As open_clip_train: decaying LayerNorm gains or the temperature hurts CLIP fine-tuning.
    """
    decay, no_decay = [], []
    for name, p in model.clip.named_parameters():
        if not p.requires_grad:
            continue
        exempt = p.ndim < 2 or any(t in name for t in ("bn", "ln", "bias", "logit_scale"))
        (no_decay if exempt else decay).append(p)
    groups = [{"params": no_decay, "weight_decay": 0.0},
              {"params": decay, "weight_decay": config.weight_decay}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98), eps=1e-6)


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def make_loader(batches: PairBatches, device: torch.device, num_workers: int) -> DataLoader:
    """One step per item; workers only on CUDA unless asked (CPU runs stay reproducible)."""
    if num_workers < 0:
        num_workers = 4 if device.type == "cuda" else 0
    return DataLoader(batches, batch_size=None, shuffle=False, num_workers=num_workers,
                      # No persistent workers: each epoch forks them anew so they see set_epoch.
                      pin_memory=device.type == "cuda")


@dataclass
class TrainState:
    """What the loop carries across epochs."""

    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    total_steps: int
    step: int = 0
    losses: list[float] = field(default_factory=list)  # total loss per step
    parts: list[dict[str, float]] = field(default_factory=list)  # unweighted parts per step


def train_step(
    model: GseModel, batch: dict[str, torch.Tensor], loss_fn: GseLoss, state: TrainState,
    config: TrainConfig,
) -> float:
    """One optimiser step on one batch; returns the total loss."""
    device = model.device
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    set_lr(state.optimizer, cosine_lr(config.lr, config.warmup_steps, state.total_steps,
                                      state.step))
    with _autocast(device, config.amp):
        images = model.encode_images(batch["pixels"])  # (U, D)
        has_text = loss_fn.image_text_weight > 0 and len(batch["text_image_index"]) > 1
        texts = model.encode_texts(batch["tokens"]) if has_text else None  # (T, D)
        parts = loss_fn(images.float(), None if texts is None else texts.float(),
                        batch["text_image_index"], model.logit_scale(), batch["pair_a"],
                        batch["pair_b"], batch["labels"])
    state.optimizer.zero_grad(set_to_none=True)
    if parts.total.requires_grad:
        state.scaler.scale(parts.total).backward()
        if config.grad_clip > 0:
            state.scaler.unscale_(state.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        state.scaler.step(state.optimizer)
        state.scaler.update()
        model.clamp_logit_scale()
    loss = float(parts.total.detach())
    state.step += 1
    state.losses.append(loss)
    state.parts.append({"image_text": parts.image_text, "pair": parts.pair})
    return loss


def train_one_epoch(
    model: GseModel, loader: DataLoader, loss_fn: GseLoss, state: TrainState,
    config: TrainConfig, on_step: StepCallback | None = None,
) -> float:
    """One pass over the training pairs; returns the epoch's mean loss."""
    model.train()
    losses = []
    for batch in loader:
        losses.append(train_step(model, batch, loss_fn, state, config))
        if on_step:
            on_step(state.step, state.total_steps, losses[-1])
    return float(np.mean(losses)) if losses else float("nan")


def train(
    model: GseModel, batches: PairBatches, config: TrainConfig,
    on_step: StepCallback | None = None,
) -> TrainState:
    """Fine-tunes ``model`` in place for ``config.epochs``; returns the per-step history."""
    seed_everything(config.seed)
    device = model.device
    loss_fn = GseLoss(image_text_weight=config.image_text_weight,
                      pair_weight=config.pair_weight, pair_kind=config.pair_loss,
                      margin=config.pair_margin)
    state = TrainState(
        optimizer=build_optimizer(model, config),
        scaler=torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda"),
        total_steps=config.epochs * len(batches),
    )
    loader = make_loader(batches, device, config.num_workers)
    for epoch in range(config.epochs):
        batches.set_epoch(epoch)
        train_one_epoch(model, loader, loss_fn, state, config, on_step)
    model.eval()
    return state
