"""All-anchor top-20 retrieval over N random 512-d unit vectors: ours beside the bare matrix
products over the same vectors and FAISS IndexFlatIP, in the same run.

    .venv/bin/python bench/bench_retrieval.py --n 20000
    .venv/bin/python bench/bench_retrieval.py --n 100000 --device cpu --repeats 1
    .venv/bin/python bench/bench_retrieval.py --n 1000000 --device cuda --no-faiss
    .venv/bin/python bench/bench_retrieval.py --n 20000 --max-shard-rows 5000 --no-faiss

The bare products are the hardware limit ours is measured against: the same (C, D) @ (D, N)
products in the same chunks (C anchors, ``chunk_rows``) into one reused float32 buffer, and
nothing else. Ours and the bare products alternate ``--repeats`` times and the best of each is
compared (other processes share this machine; the minimum is the figure least disturbed);
FAISS runs in the same rotation.

Both exclude the anchor itself the same way: each searches k + 1 and drops the anchor's own
row from its list (ours masks it before the top-k, FAISS's list has it first), so the result
sets compared are the 20 non-self neighbours. Agreement is the share of anchors whose two
neighbour sets are equal, and the mean set overlap. On CUDA it prints the TFLOP/s of the
similarity products (2 * N * N * D floating-point operations) in the storage dtype (float16 by
default), end to end and products alone, against the device's dense float16/bfloat16 rate.

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

from encoder.retrieval import (  # noqa: E402
    chunk_rows,
    pick_device,
    storage_dtype,
    topk_cosine,
)


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


# Dense (no sparsity) float16/bfloat16 tensor-core rates in TFLOP/s, from the vendors' data
# sheets; matched against torch.cuda.get_device_name(). --peak-tflops overrides.
DENSE_HALF_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0,
                     "H100 PCIe": 756.0, "H100 NVL": 835.0, "A100": 312.0, "L40S": 362.0,
                     "L4": 121.0, "A10": 125.0, "T4": 65.0, "V100": 125.0}


def dense_peak_tflops(name: str) -> float | None:
    """The data-sheet dense half-precision rate of a device name (longest match wins)."""
    hits = [key for key in DENSE_HALF_TFLOPS if key in name]
    return DENSE_HALF_TFLOPS[max(hits, key=len)] if hits else None


def bare_products(x: np.ndarray, k: int, device: torch.device,
                  dtype: torch.dtype) -> float:
    """Seconds for the chunked (C, D) @ (D, N) products alone, same chunks and dtype as ours."""
    from encoder.retrieval import _products, _to_device

    n = x.shape[0]
    db = _to_device(x, device, dtype)  # (N, D)
    rows = chunk_rows(max(n, k + 2))
    out = torch.empty((min(rows, n), n), device=device)  # (C, N) float32, reused
    _sync(device)
    t0 = time.perf_counter()
    for s in range(0, n, rows):
        q = _to_device(x[s:s + rows], device, dtype)  # (C, D)
        _products(q, db, out[:len(q)])
    _sync(device)
    return time.perf_counter() - t0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def print_cuda_throughput(n: int, dim: int, ours_t: float, bare_t: float,
                          device: torch.device, dtype: torch.dtype, peak: float | None) -> None:
    """TFLOP/s of the similarity products, 2 * N * N * D, against the dense half rate."""
    flop = 2.0 * n * n * dim
    name = torch.cuda.get_device_name(device)
    peak = peak or dense_peak_tflops(name)
    for label, t in (("ours end to end", ours_t), ("products alone", bare_t)):
        rate = flop / t / 1e12
        share = f" = {rate / peak:.1%} of {peak:.0f} TFLOP/s dense" if peak else ""
        print(f"  {label}: {flop / 1e12:.2f} TFLOP in {t:.3f} s = {rate:.1f} TFLOP/s{share}")
    print(f"  device {name}, embeddings kept in {dtype}, float32 accumulation and scores")


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
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--no-faiss", action="store_true", help="skip FAISS")
    parser.add_argument("--max-shard-rows", type=int, default=0,
                        help="hold the library in shards of this many rows (merged top-k)")
    parser.add_argument("--peak-tflops", type=float, default=0.0,
                        help="the device's dense half rate, when its name is not in the table")
    args = parser.parse_args()

    device = pick_device(args.device or None)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device on this machine")
    dtype = storage_dtype(device)
    x = random_unit_vectors(args.n, args.dim, seed=0)
    print(f"N={args.n} D={args.dim} k={args.k} device={device} dtype={dtype} "
          f"chunk={chunk_rows(args.n)} anchors, library shards of "
          f"{args.max_shard_rows or args.n} rows")
    print(describe_threads())

    topk_cosine(x[:2000], args.k, device=device)  # warm-up: thread pools, CUDA context
    bare_products(x[:2000], args.k, device, dtype)
    ours_ts, bare_ts, faiss_ts = [], [], []
    for _ in range(args.repeats):
        _sync(device)
        t0 = time.perf_counter()
        ours_i, ours_s = topk_cosine(x, args.k, device=device,
                                     max_shard_rows=args.max_shard_rows or None)
        _sync(device)
        ours_ts.append(time.perf_counter() - t0)
        bare_ts.append(bare_products(x, args.k, device, dtype))
        if not args.no_faiss:
            faiss_i, faiss_s, faiss_t = faiss_topk(x, args.k)
            faiss_ts.append(faiss_t)
    ours_t, bare_t = min(ours_ts), min(bare_ts)
    print(f"bare products {bare_t:8.2f} s   (runs {', '.join(f'{t:.2f}' for t in bare_ts)})")
    print(f"ours          {ours_t:8.2f} s   (runs {', '.join(f'{t:.2f}' for t in ours_ts)})")
    print(f"ratio ours/bare products = {ours_t / bare_t:.3f} (best of {args.repeats} each)")
    if device.type == "cuda":
        print_cuda_throughput(args.n, args.dim, ours_t, bare_t, device, dtype, args.peak_tflops)
    if args.no_faiss:
        return
    faiss_t = min(faiss_ts)
    same, overlap = agreement(ours_i, faiss_i)
    print(f"faiss         {faiss_t:8.2f} s   (runs {', '.join(f'{t:.2f}' for t in faiss_ts)}; "
          "IndexFlatIP, CPU)")
    print(f"ratio ours/faiss = {ours_t / faiss_t:.3f}")
    print(f"agreement: identical sets {same:.4%}, mean overlap {overlap:.4%}, "
          f"max |score diff| {np.abs(ours_s - faiss_s).max():.2e}")
    gaps = boundary_gaps(x, ours_i, faiss_i)
    if gaps:
        print(f"{len(gaps)} anchors differ; exact cosine spread of the swapped neighbours: "
              f"max {max(gaps):.2e} (float32 rounding ties at rank {args.k})")


if __name__ == "__main__":
    main()
