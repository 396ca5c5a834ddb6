"""All-anchor top-20 retrieval over N random 512-d unit vectors: ours beside FAISS IndexFlatIP.

    .venv/bin/python bench/bench_retrieval.py --n 20000
    .venv/bin/python bench/bench_retrieval.py --n 100000 --device cpu

Both exclude the anchor itself the same way: each searches k + 1 and drops the anchor's own
row from its list (ours masks it before the top-k, FAISS's list has it first), so the result
sets compared are the 20 non-self neighbours. Agreement is the share of anchors whose two
neighbour sets are equal, and the mean set overlap. On CUDA it also prints the TFLOP/s of the
similarity products (2 * N * N * D floating-point operations).

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on some machines (see the environment notes):
they slow numpy's OpenBLAS, not torch (MKL/its own BLAS) nor FAISS. The script prints them and
the thread pools (threadpoolctl) so a run says what it measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from encoder.retrieval import pick_device, topk_cosine  # noqa: E402


def random_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """(N, D) float32 rows uniform on the unit sphere."""
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def faiss_topk(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """FAISS IndexFlatIP, all anchors, k + 1 then the anchor's own row dropped."""
    import faiss

    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    scores, idx = index.search(x, k + 1)  # (N, k+1)
    elapsed = time.perf_counter() - t0
    n = x.shape[0]
    keep = idx != np.arange(n)[:, None]  # drop self wherever it landed
    # Rows where self was not found (a tie pushed it out) keep their first k.
    out_i = np.stack([row[mask][:k] for row, mask in zip(idx, keep, strict=True)])
    out_s = np.stack([row[mask][:k] for row, mask in zip(scores, keep, strict=True)])
    return out_i, out_s, elapsed


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(share of rows with identical neighbour sets, mean |A ∩ B| / k)."""
    same = 0
    overlap = 0
    for ra, rb in zip(a, b, strict=True):
        inter = len(set(ra.tolist()) & set(rb.tolist()))
        overlap += inter
        same += inter == len(ra)
    return same / len(a), overlap / a.size


def boundary_gaps(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[float]:
    """For each row whose sets differ: the float64 cosine spread of the swapped neighbours.

    A spread near 1e-7 means the two lists differ only by a float32 rounding tie at rank k.
    """
    gaps = []
    differ = [set(p.tolist()) != set(q.tolist()) for p, q in zip(a, b, strict=True)]
    for row in np.flatnonzero(differ):
        swapped = np.array(sorted(set(a[row].tolist()) ^ set(b[row].tolist())))
        cos = x[swapped].astype(np.float64) @ x[row].astype(np.float64)
        gaps.append(float(cos.max() - cos.min()))
    return gaps


def print_cuda_throughput(x: np.ndarray, ours_t: float, device: torch.device) -> None:
    """TFLOP/s of the similarity products, 2 * N * N * D: end to end, then the products alone.

    The products are float32; TF32 tensor cores are used only if torch allows them (printed).
    """
    n, dim = x.shape
    flop = 2.0 * n * n * dim
    tf32 = torch.backends.cuda.matmul.allow_tf32
    print(f"similarity products: {flop / 1e12:.2f} TFLOP in {ours_t:.2f} s end to end = "
          f"{flop / ours_t / 1e12:.2f} TFLOP/s (incl. top-k, transfers; tf32={tf32})")
    rows = 4096  # anchors per product: a (4096, N) float32 block, 1.6 GB at N = 100,000
    db = torch.from_numpy(x).to(device)  # (N, D)
    _ = db[:rows] @ db.T  # warm-up: cuBLAS picks its kernel for this shape
    torch.cuda.synchronize()
    t1 = time.perf_counter()
    for s in range(0, n, rows):
        _ = db[s:s + rows] @ db.T  # (rows, N)
    torch.cuda.synchronize()
    gemm_t = time.perf_counter() - t1
    print(f"products alone: {gemm_t:.3f} s = {flop / gemm_t / 1e12:.2f} TFLOP/s "
          f"({'tf32' if tf32 else 'fp32'})")


def describe_threads() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = [
            f"{p['internal_api']}:{p['num_threads']}({p.get('architecture', '?')})"
            for p in threadpool_info()
        ]
    except ImportError:
        pools = []
    env = {k: os.environ.get(k, "") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return (f"torch threads {torch.get_num_threads()}, pools {pools}, env {env}, "
            f"cpu {platform.processor() or platform.machine()}, cores {os.cpu_count()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="vectors (20000 or 100000)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--device", default="", help="cpu or cuda; default cuda when present")
    parser.add_argument("--no-faiss", action="store_true", help="time ours only")
    args = parser.parse_args()

    device = pick_device(args.device or None)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device on this machine")
    x = random_unit_vectors(args.n, args.dim, seed=0)
    print(f"N={args.n} D={args.dim} k={args.k} device={device}")
    print(describe_threads())

    topk_cosine(x[:1000], args.k, device=device)  # warm-up: thread pools, CUDA context
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    ours_i, ours_s = topk_cosine(x, args.k, device=device)
    ours_t = time.perf_counter() - t0
    print(f"ours   {ours_t:8.2f} s")
    if device.type == "cuda":
        print_cuda_throughput(x, ours_t, device)
    if args.no_faiss:
        return
    faiss_i, faiss_s, faiss_t = faiss_topk(x, args.k)
    same, overlap = agreement(ours_i, faiss_i)
    print(f"faiss  {faiss_t:8.2f} s   (IndexFlatIP, CPU)")
    print(f"ratio ours/faiss = {ours_t / faiss_t:.3f}")
    print(f"agreement: identical sets {same:.4%}, mean overlap {overlap:.4%}, "
          f"max |score diff| {np.abs(ours_s - faiss_s).max():.2e}")
    gaps = boundary_gaps(x, ours_i, faiss_i)
    if gaps:
        print(f"{len(gaps)} anchors differ; exact cosine spread of the swapped neighbours: "
              f"max {max(gaps):.2e} (float32 rounding ties at rank {args.k})")


if __name__ == "__main__":
    main()
