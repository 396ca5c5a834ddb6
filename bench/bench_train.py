"""GSE training throughput (samples/s) beside a plain OpenCLIP training loop, same run.

    .venv/bin/python bench/bench_train.py                       # CPU, small ViT, 1 thread
    .venv/bin/python bench/bench_train.py --device cuda --model ViT-B-32 --batch-size 32

Both loops get the same model config and initial weights, the same AdamW, and the same
materialised batches (pixels, one query per sticker, pairs), so the ratio measures the loop:
ours (GseLoss = CLIP loss + pair loss, warm-up/cosine schedule, gradient clipping, logit-scale
clamp, AMP on CUDA) against open_clip_train's core (encode, ClipLoss, backward, step, clamp).
A sample is one sticker image embedded in a step (a step of B pairs embeds up to 2B stickers).
Rounds alternate ours / plain and the median round is reported, so drifting clocks or a
neighbour's load hit both alike. With ``--device cuda`` it also times embedding (images/s).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from encoder.gse.config import TrainConfig  # noqa: E402
from encoder.gse.data import PairBatches, PairRow, StickerPixels  # noqa: E402
from encoder.gse.loss import GseLoss  # noqa: E402
from encoder.gse.model import GseModel, gse_model_load  # noqa: E402
from encoder.gse.train import TrainState, build_optimizer, train_step  # noqa: E402

SMALL_CONFIG = {  # ~ViT-Tiny at 64 px: trains at a useful rate on one CPU thread
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": 4, "width": 192, "patch_size": 16,
                   "head_width": 64},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2,
                 "layers": 4},
}


def make_data(folder: Path, n_stickers: int, n_pairs: int, size: int, seed: int):
    """Random-noise stickers with one or two queries each, and random labelled pairs."""
    rng = np.random.default_rng(seed)
    paths, queries = {}, {}
    for i in range(n_stickers):
        sid = f"s{i:05d}.png"
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / sid)
        paths[sid] = folder / sid
        queries[sid] = [f"query number {i}", f"concept {i % 50}"]
    ids = list(paths)
    pairs = [PairRow(ids[a], ids[b], int(rng.integers(0, 2)))
             for a, b in rng.integers(0, n_stickers, (n_pairs, 2)) if a != b]
    return paths, queries, pairs


def plain_openclip_step(model: GseModel, batch: dict, optimizer, loss_fn, scaler, amp: bool):
    """open_clip_train's train_one_epoch body, stripped to one step."""
    device = model.device
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    ctx = (torch.autocast("cuda", dtype=torch.float16) if amp and device.type == "cuda"
           else contextlib.nullcontext())
    with ctx:
        images = model.clip.encode_image(batch["pixels"], normalize=True)  # (U, D)
        texts = model.clip.encode_text(batch["tokens"], normalize=True)  # (T, D)
        loss = loss_fn(images[batch["text_image_index"]], texts, model.clip.logit_scale.exp())
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    with torch.no_grad():
        model.clip.logit_scale.clamp_(0, np.log(100))


def time_steps(step, batches: list[dict], device: torch.device) -> float:
    """Samples/s over the batches."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for b in batches:
        step(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return sum(len(b["pixels"]) for b in batches) / (time.perf_counter() - start)


@torch.no_grad()
def embed_throughput(model: GseModel, batch: torch.Tensor, repeats: int) -> float:
    model.eval()
    batch = batch.to(model.device)
    with torch.autocast("cuda", dtype=torch.float16, enabled=model.device.type == "cuda"):
        model.encode_images(batch)
        torch.cuda.synchronize() if model.device.type == "cuda" else None
        start = time.perf_counter()
        for _ in range(repeats):
            model.encode_images(batch)
        torch.cuda.synchronize() if model.device.type == "cuda" else None
    return repeats * len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="", help="OpenCLIP name (default: small config)")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model_ref = args.model
    if not model_ref:
        model_ref = str(tmp / "bench-small-vit.json")
        Path(model_ref).write_text(json.dumps(SMALL_CONFIG))
    ours = gse_model_load(model_ref, "", args.device)
    plain = copy.deepcopy(ours)  # same initial weights
    size = ours.image_size
    n_steps = args.steps * args.rounds + 2
    paths, queries, pairs = make_data(tmp, 4 * args.batch_size, n_steps * args.batch_size,
                                      max(size, 64), 0)
    config = TrainConfig(batch_size=args.batch_size, device=args.device, warmup_steps=2)
    source = PairBatches(pairs, StickerPixels(paths, ours.preprocess), queries, ours.tokenizer,
                         batch_size=args.batch_size, seed=0)
    batches = [source[i] for i in range(len(source))]  # the same tensors feed both loops
    device = ours.device
    loss_fn = GseLoss()
    state = TrainState(optimizer=build_optimizer(ours, config),
                       scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda"),
                       total_steps=len(batches))
    from open_clip.loss import ClipLoss

    plain_opt = build_optimizer(plain, config)
    plain_scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    clip_loss = ClipLoss()
    ours.train()
    plain.train()

    def our_step(b):
        return train_step(ours, b, loss_fn, state, config)

    def plain_step(b):
        return plain_openclip_step(plain, b, plain_opt, clip_loss, plain_scaler, True)

    our_step(batches[0])  # warm-up: allocator, kernels
    plain_step(batches[1])
    rounds_ours, rounds_plain = [], []
    for r in range(args.rounds):
        chunk = batches[2 + r * args.steps: 2 + (r + 1) * args.steps]
        # Swap who goes first every round: the second runner finds warmer caches.
        order = [(our_step, rounds_ours), (plain_step, rounds_plain)]
        for step, out in (order if r % 2 == 0 else order[::-1]):
            out.append(time_steps(step, chunk, device))
    result = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "model": args.model or "small ViT (64 px, 4 layers, width 192)",
        "batch_pairs": args.batch_size,
        "mean_images_per_step": float(np.mean([len(b["pixels"]) for b in batches])),
        "threads": args.threads,
        "ours_samples_per_s": statistics.median(rounds_ours),
        "plain_openclip_samples_per_s": statistics.median(rounds_plain),
    }
    result["ratio"] = result["ours_samples_per_s"] / result["plain_openclip_samples_per_s"]
    if device.type == "cuda":
        result["embed_images_per_s"] = embed_throughput(ours, torch.cat(
            [b["pixels"] for b in batches[:4]])[:128], repeats=20)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
