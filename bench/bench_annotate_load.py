"""Load benchmark: simulated annotators looping next-task -> submit against gunicorn on PostgreSQL.

    .venv/bin/python bench/bench_annotate_load.py --annotators 50 --duration 30
    .venv/bin/python bench/bench_annotate_load.py --annotators 1000 --think-ms 4000  # a crowd
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_annotate_load.py ...  # any server

The protocol is the annotator page's by default (``--protocol combined``: each submit also
leases and returns the next task, one request per task); ``--protocol separate`` asks for the
next task with its own request. ``--phases paced`` leaves out the saturation phases.

1. Creates (drops first) the database ``<DATABASE_URL's name>_bench`` (the embedded server's
   ``stickersim_bench`` when DATABASE_URL is unset), migrates it and fills a
   campaign: ``--anchors`` anchors x 2 iterations, 20 candidates per set, one annotator per task,
   and ``--annotators`` annotator accounts with API tokens.
2. Starts gunicorn (gthread: ``--workers`` processes x ``--threads`` threads) on 127.0.0.1.
3. Saturation, every simulated annotator back to back with no pause, ``--duration`` s each:
   "ping" loops GET /api/ping/ (a trivial DRF view with the same token auth: the framework's
   own cost on this machine), then "annotate" loops POST next -> POST submit (2 candidates
   selected, a submission_id; combined: POST submit?next= only, after the first next). The
   ratio of submit to ping throughput compares the capacity of the hot paths with the
   trivial endpoint's.
4. At an annotator's pace, ``--duration`` s each: every simulated annotator takes a task, judges
   it for ``--think-ms`` (uniformly 0.5x-1.5x, so they do not march in step), submits and asks
   for the next at once; "ping" at the same request rate beside it (one ping per think time
   and request of a task). This is where the latency an annotator sees is measured: at
   saturation a closed loop of N clients waits N / throughput on average whatever the code
   does (Little's law), so the p95 there says how many clients the machine is short of, not
   how fast a request is.
5. Prints requests/s and p50/p95/p99 latency per phase and endpoint, the targets, and checks
   that the stored annotations equal the accepted submissions (task, annotator, selection).

The clients are asyncio coroutines in this one process (one event loop, one keep-alive HTTP/1.1
connection per simulated annotator), on the same machine as the server: they take part of the
CPU (much less than 50 threads would), so figures are a lower bound. Every phase runs the same
connections, so the ping baseline sees the same concurrency as the annotate phase. An accepted
submission is one answered 201 whose echoed selection is the one sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import bench_database_url, database_recreate, django_setup  # noqa: E402

CANDIDATES = 20
STICKER_POOL = 600  # candidate stickers are drawn from this many rows
CAMPAIGN = "bench"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--annotators", type=int, default=50)
    p.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    # 24k tasks: enough that the fastest run here does not finish the campaign.
    p.add_argument("--anchors", type=int, default=0,
                   help="tasks = 2 x anchors; 0: enough that no phase runs the campaign dry "
                        "(at least 12,000)")
    p.add_argument("--history", type=int, default=5000,
                   help="anchors of an earlier, finished campaign (2 x answered tasks)")
    # 4 x 3 on 2 cores: at saturation 3 x 4, 2 x 2 and 4 x 1 gave the same ratio within the
    # spread, but with 1,000 paced annotators fewer threads per process cut the tail (threads
    # of one process queue for its GIL): p95 14 ms with 4 x 3 and 6 x 2, 23-48 ms with 3 x 4.
    p.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=3, help="gunicorn threads per worker")
    # A person judges 20 candidates in several seconds; 1 s is a deliberately fast annotator.
    p.add_argument("--think-ms", type=float, default=1000.0,
                   help="mean time an annotator looks at a task in the paced phases")
    # combined is what the annotator page does (one request per task)
    p.add_argument("--protocol", choices=("separate", "combined"), default="combined",
                   help="combined: each submit also returns the next task (?next=<campaign>), "
                        "one request per task; separate: next -> submit")
    p.add_argument("--phases", choices=("all", "paced"), default="all",
                   help="paced: only the annotators' pace (ping, then annotate), no saturation")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--window", type=float, default=30.0,
                   help="seconds per window of the over-time figures (paced phases)")
    args = p.parse_args()
    if not args.anchors:
        args.anchors = anchors_for(args)
    return args


def anchors_for(args: argparse.Namespace) -> int:
    """Enough anchors that the phases do not finish the campaign: a campaign that runs dry
    turns the end of a run into "nothing left" answers, which is not the load being measured.
    Saturation is taken at up to 450 tasks/s (above what this bench has seen on 2 cores), the
    paced phase at one task per think time per annotator, with a third to spare."""
    paced = args.annotators / max(args.think_ms / 1000, 0.05) * args.duration
    saturation = 0 if args.phases == "paced" else 450 * args.duration
    return max(12000, int(1.33 * (paced + saturation) / 2))








def tasks_fill(*, name: str, anchors: list, pool: list, rng: random.Random,
               done: bool = False) -> tuple[list, dict[int, list]]:
    """Campaign ``name``: 2 tasks per anchor (created anchor by anchor, as an import makes
    them), 20 candidates each drawn from ``pool``. Returns the tasks and, per candidate set,
    its candidate stickers in rank order."""
    from annotation.models import Campaign, Candidate, CandidateSet, Task

    campaign = Campaign.objects.create(name=name, annotators_per_task=1)
    sets = CandidateSet.objects.bulk_create(
        CandidateSet(campaign=campaign, anchor=anchor, iteration=it,
                     retrieval_view="image" if it == 1 else "next_page")
        for anchor in anchors for it in (1, 2))
    ranked = {cs.pk: rng.sample(pool, CANDIDATES) for cs in sets}
    # 24k candidate sets x 20 rows = 480k small rows; 5000 per INSERT keeps memory small.
    Candidate.objects.bulk_create(
        (Candidate(candidate_set=cs, sticker=s, rank=r)
         for cs in sets for r, s in enumerate(ranked[cs.pk], start=1)), batch_size=5000)
    tasks = Task.objects.bulk_create(
        (Task(candidate_set=cs, campaign=campaign, anchor_id=cs.anchor_id, iteration=cs.iteration,
              status=Task.Status.DONE if done else Task.Status.OPEN) for cs in sets),
        batch_size=5000)
    return tasks, ranked


def history_fill(*, anchors: list, pool: list, annotators: list, rng: random.Random) -> None:
    """An earlier, finished campaign: 2 answered tasks per anchor, 2 candidates selected.

    A lab's database is not empty when a campaign starts. With empty annotation tables the
    statistics say "no rows", and every server connection would keep, for the whole run, the
    plans (sequential scans) chosen for an empty table while it grows by thousands of rows.
    """
    from annotation.models import Annotation

    tasks, ranked = tasks_fill(name="bench-history", anchors=anchors, pool=pool, rng=rng,
                               done=True)
    answers = Annotation.objects.bulk_create(
        (Annotation(task=t, annotator=annotators[i % len(annotators)], submission_id=f"h{i}",
                    duration_ms=1000) for i, t in enumerate(tasks)), batch_size=5000)
    Annotation.selected.through.objects.bulk_create(
        (Annotation.selected.through(annotation=a, sticker=s)
         for a, t in zip(answers, tasks, strict=True) for s in ranked[t.candidate_set_id][:2]),
        batch_size=5000)


def campaign_fill(
    *, anchors: int, annotators: int, history: int
) -> tuple[str, list[tuple[str, str]]]:
    """The campaign and the (username, token) of each simulated annotator."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from annotation.models import Sticker
    from annotation.selectors import annotators_group

    call_command("migrate", verbosity=0)
    rng = random.Random(0)
    with transaction.atomic():
        stickers = Sticker.objects.bulk_create(
            Sticker(sticker_id=f"b{i:07d}.png", file="stickers/bench.png",
                    still="stills/bench.png", media_type="png", content_hash=f"{i:064x}",
                    size_bytes=100, width=64, height=64)
            for i in range(anchors + STICKER_POOL)
        )
        pool = stickers[anchors:]
        tasks_fill(name=CAMPAIGN, anchors=stickers[:anchors], pool=pool, rng=rng)
        group = annotators_group()
        users, accounts = [], []
        for i in range(annotators):
            user = get_user_model().objects.create_user(f"bench{i:03d}")
            user.groups.add(group)
            accounts.append(user)
            users.append((user.username, Token.objects.create(user=user).key))
        history_fill(anchors=stickers[:history], pool=pool, annotators=accounts, rng=rng)
    from django.db import connection

    with connection.cursor() as cur:
        # Vacuumed and analyzed now, not by autovacuum during the first phase (ping).
        cur.execute("VACUUM ANALYZE")
        # The fill's dirty pages written now, not by a checkpoint inside a measured phase (with
        # fsync on, as the embedded server runs, that flush cost ~2 ms of CPU per ping).
        cur.execute("CHECKPOINT")
    return CAMPAIGN, users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(url: str, port: int, workers: int, threads: int,
                 connections: int) -> subprocess.Popen:
    """gunicorn on ``port``; each worker may keep ``connections`` keep-alive clients (gthread's
    default of 1,000 per worker is too few when the kernel hands most of 1,000 annotators'
    connections to one worker)."""
    env = dict(os.environ, DATABASE_URL=url, DJANGO_DEBUG="0", DJANGO_SETTINGS_MODULE=
               "config.settings", DATABASE_CONN_MAX_AGE="600", LOG_LEVEL="WARNING",
               DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
               DJANGO_SECURE_SSL_REDIRECT="0")  # plain HTTP on loopback (a proxy does TLS)
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
           "--pythonpath", str(REPO),
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
           "--worker-class", "gthread", "--worker-connections", str(max(1000, connections)),
           "--backlog", "4096", "--keep-alive", "30",
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("gunicorn did not start in 30 s")


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    finished: dict[str, list[float]] = field(default_factory=dict)  # perf_counter at the answer
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    accepted: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, endpoint: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(endpoint, []).append(seconds)
        self.finished.setdefault(endpoint, []).append(time.perf_counter())
        counts = self.statuses.setdefault(endpoint, {})
        counts[status] = counts.get(status, 0) + 1


class Client:
    """One simulated annotator's keep-alive HTTP/1.1 connection with token auth.

    A minimal asyncio client (Content-Length and chunked bodies): all annotators share one
    process and one event loop, which costs the server's CPU far less than 50 threads would
    (client and server share the machine's cores).
    """

    def __init__(self, port: int, token: str, stats: Stats) -> None:
        self.port = port
        self.head = (f"Host: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
                     "Accept: application/json\r\nConnection: keep-alive\r\n")
        self.stats = stats
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, endpoint: str, method: str, path: str, body: dict | None = None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode() if body is not None else b""
        request = (f"{method} {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
                   f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        start = time.perf_counter()
        self.writer.write(request)
        status, payload = await asyncio.wait_for(self._response(), timeout=30)
        self.stats.add(endpoint, time.perf_counter() - start, status)
        return status, (json.loads(payload) if payload else None)

    async def _response(self) -> tuple[int, bytes]:
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readline()).strip(), 16):
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readline()
            return status, b"".join(c[:-2] for c in chunks)
        return status, await self.reader.readexactly(int(headers.get("content-length", 0)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None


def think_time(mean_s: float) -> float:
    """An annotator's time on one task: uniform in [0.5, 1.5] x the mean (0: no pause)."""
    return mean_s * random.uniform(0.5, 1.5)


async def ping_loop(port: int, token: str, stats: Stats, think_s: float, per_task: int,
                    stop: asyncio.Event) -> None:
    """Pings back to back, or ``per_task`` pings per think time: the annotate loop's request
    rate (2 with the separate protocol, 1 with the combined one)."""
    client = Client(port, token, stats)
    await asyncio.sleep(random.uniform(0, think_s))  # arrivals spread as in _annotate
    while not stop.is_set():
        try:
            await client.call("ping", "GET", "/api/ping/")
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            stats.errors.append(f"ping: {exc!r}")  # a timeout while workers start: reconnect
            client.close()
        if think_s:
            await asyncio.sleep(think_time(think_s) / per_task)
    client.close()


async def annotate_loop(port: int, user: tuple[str, str], campaign: str, stats: Stats,
                        think_s: float, combined: bool, stop: asyncio.Event) -> None:
    username, token = user
    client = Client(port, token, stats)
    try:
        await _annotate(client, username, campaign, stats, think_s, stop, combined)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        stats.errors.append(f"{username}: {exc!r}")
    client.close()


async def _annotate(client: Client, username: str, campaign: str, stats: Stats, think_s: float,
                    stop: asyncio.Event, combined: bool) -> None:
    # Paced annotators arrive over one think time, not all in the same millisecond: a burst of
    # 50 requests at once would measure the phase's first second, not the annotators' pace.
    await asyncio.sleep(random.uniform(0, think_s))
    task = None
    while not stop.is_set():
        if task is None:
            status, task = await client.call("next", "POST",
                                             f"/api/campaigns/{campaign}/tasks/next/")
            if status == 204:
                break
            if status != 200:
                stats.errors.append(f"next {status}: {task}")
                break
        if think_s:
            await asyncio.sleep(think_time(think_s))
        selected = [c["sticker_id"] for c in task["candidates"][:2]]
        body = {"selected": selected, "submission_id": f"{username}-{task['id']}",
                "duration_ms": 1500}
        # combined: the submit also leases and returns the next task (?next=<campaign>)
        query = f"?next={campaign}" if combined else ""
        status, answer = await client.call(
            "submit", "POST", f"/api/tasks/{task['id']}/submit/{query}", body)
        if status == 201 and sorted(answer["selected"]) == sorted(selected):
            stats.accepted.append((task["id"], username, tuple(sorted(selected))))
        else:
            stats.errors.append(f"submit {status}: {answer}")
        task = answer.get("next") if combined and isinstance(answer, dict) else None
        if combined and task is None:
            break  # nothing left for this annotator


def cpu_seconds(server_pid: int, database: str) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn processes, the PostgreSQL backends serving
    ``database`` and this client (Linux /proc): where a phase's time goes on the shared cores.
    A backend's process title names its database; other databases on the same server (the
    embedded one is shared with the test suites) are not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"gunicorn": 0.0, "postgres": 0.0, "client": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(entry.name) == os.getpid():
            used["client"] += seconds
        elif comm.startswith("postgres"):
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if f" {database} " in title:
                used["postgres"] += seconds
        elif int(fields[2]) == os.getpgid(server_pid) or int(entry.name) == server_pid:
            used["gunicorn"] += seconds  # field 2 is the process group: gunicorn's session
    return used


def run_phase(target, args_for, n: int, duration: float, window: float = 0.0,
              sample=None) -> float:
    """Runs n coroutines ``target(*args_for(i), stop)`` for ``duration`` s; the wall time.
    With ``sample``, calls it at the start and every ``window`` s (the over-time figures)."""

    async def phase() -> float:
        stop = asyncio.Event()
        start = time.perf_counter()
        if sample:
            sample()
        tasks = [asyncio.create_task(target(*args_for(i), stop)) for i in range(n)]
        if sample and window:
            for k in range(1, int(duration // window) + 1):
                await asyncio.sleep(max(0.0, start + k * window - time.perf_counter()))
                sample()
        await asyncio.sleep(max(0.0, start + duration - time.perf_counter()))
        stop.set()
        await asyncio.wait(tasks, timeout=60)
        return time.perf_counter() - start

    return asyncio.run(phase())


def warm_up(port: int, token: str, connections: int, limit_s: float = 120.0) -> None:
    """Pings until the workers answer fast: each worker imports the URLconf (and whatever the
    apps' views import) on its first request, which must not count in the figures."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        stats = Stats()
        run_phase(ping_loop, lambda i, s=stats: (port, token, s, 0.0, 1), connections, 1.0)
        lat = stats.latencies.get("ping", [])
        if len(lat) > 50 and pct(lat, 95) < 100:
            return
    print("warning: the server was still slow after the warm-up")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] * 1000


def report_line(name: str, lat: list[float], seconds: float, statuses: dict[int, int]) -> str:
    if not lat:
        return f"{name:<16} {0:>8}"
    return (f"{name:<16} {len(lat):>8} {len(lat) / seconds:>9.1f} {pct(lat, 50):>8.1f} "
            f"{pct(lat, 95):>8.1f} {pct(lat, 99):>8.1f}   {dict(sorted(statuses.items()))}")


@dataclass
class Phases:
    """The four phases' stats and wall times: saturation and paced, ping and annotate."""

    ping: Stats = field(default_factory=Stats)
    work: Stats = field(default_factory=Stats)
    paced_ping: Stats = field(default_factory=Stats)
    paced_work: Stats = field(default_factory=Stats)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> component -> s
    # phase -> [(perf_counter, CPU seconds so far per component)] at each window's edge
    samples: dict[str, list[tuple[float, dict[str, float]]]] = field(default_factory=dict)


def statistics_refresh() -> None:
    """ANALYZE the tables a phase changes, before the phase and outside its figures.

    In a running campaign autovacuum keeps these statistics current; here the fill's VACUUM
    ANALYZE saw no leases and no answers in the campaign, and autovacuum's next pass (a minute
    or more on a busy machine) would land inside some phase and replan every cached plan of
    the functions there. The phases measure the steady state, not autovacuum's timing.
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE annotation_lease, annotation_task, annotation_annotation")


def phases_run(args: argparse.Namespace, port: int, campaign: str,
               users: list[tuple[str, str]], server_pid: int, database: str) -> Phases:
    out = Phases()
    n, duration, think = args.annotators, args.duration, args.think_ms / 1000
    combined = args.protocol == "combined"
    per_task = 1 if combined else 2  # requests per task
    plan = {
        "ping": (ping_loop, lambda i: (port, users[i][1], out.ping, 0.0, per_task)),
        "work": (annotate_loop,
                 lambda i: (port, users[i], campaign, out.work, 0.0, combined)),
        "paced_ping": (ping_loop,
                       lambda i: (port, users[i][1], out.paced_ping, think, per_task)),
        "paced_work": (annotate_loop,
                       lambda i: (port, users[i], campaign, out.paced_work, think, combined)),
    }
    if args.phases == "paced":
        del plan["ping"], plan["work"]
    for name, (target, args_for) in plan.items():
        statistics_refresh()
        before = cpu_seconds(server_pid, database)
        marks = out.samples.setdefault(name, [])
        out.seconds[name] = run_phase(
            target, args_for, n, duration, window=args.window if name.startswith("paced") else 0,
            sample=lambda marks=marks: marks.append(
                (time.perf_counter(), cpu_seconds(server_pid, database))))
        after = cpu_seconds(server_pid, database)
        out.cpu[name] = {k: after[k] - before[k] for k in after}
    return out


def windows_report(phases: Phases, name: str) -> None:
    """Requests, p95 and CPU per request of each window of a paced phase: whether the cost
    and the latency hold over a long run (dead rows, autovacuum, growing tables) or creep."""
    marks = phases.samples.get(name, [])
    if len(marks) < 3:
        return
    stats = getattr(phases, name)
    endpoint = "submit" if name == "paced_work" else "ping"
    done, lat = stats.finished.get(endpoint, []), stats.latencies.get(endpoint, [])
    print(f"  {name} over time ({endpoint}): window start s, requests, p95 ms, "
          f"CPU ms per request gunicorn / postgres")
    t0 = marks[0][0]
    for (a, cpu_a), (b, cpu_b) in zip(marks, marks[1:], strict=False):
        here = [x for x, t in zip(lat, done, strict=True) if a <= t < b]
        if not here:
            continue
        per = {k: 1000 * (cpu_b[k] - cpu_a[k]) / len(here) for k in ("gunicorn", "postgres")}
        print(f"    {a - t0:6.0f} {len(here):8} {pct(here, 95):8.1f}   "
              f"{per['gunicorn']:.2f} / {per['postgres']:.2f}")


def report(phases: Phases, think_ms: float) -> None:
    s = phases.seconds
    print(f"\n{'phase / endpoint':<16} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8}   statuses")
    sections = (("saturation: back to back, no pause", "ping", "work"),
                (f"annotators' pace: {think_ms:.0f} ms per task on average", "paced_ping",
                 "paced_work"))
    for title, ping_phase, work_phase in sections:
        if ping_phase not in s:
            continue
        print(f"-- {title}")
        ping, work = getattr(phases, ping_phase), getattr(phases, work_phase)
        print(report_line("ping", ping.latencies.get("ping", []), s[ping_phase],
                          ping.statuses.get("ping", {})))
        for name in ("next", "submit"):
            print(report_line(name, work.latencies.get(name, []), s[work_phase],
                              work.statuses.get(name, {})))
    print("\nCPU ms per request (gunicorn / postgres / client):")
    for name in s:
        stats = getattr(phases, name)
        requests = sum(len(v) for v in stats.latencies.values()) or 1
        cpu = phases.cpu[name]
        print(f"  {name:<12} " + " / ".join(
            f"{1000 * cpu[k] / requests:.2f}" for k in ("gunicorn", "postgres", "client")))
    for name in ("paced_ping", "paced_work"):
        windows_report(phases, name)
    if "work" in s:
        submit_rps = len(phases.work.latencies.get("submit", [])) / s["work"]
        ping_rps = len(phases.ping.latencies.get("ping", [])) / s["ping"]
        print(f"\nsaturation: submit throughput / ping throughput = "
              f"{submit_rps / ping_rps:.2f} (target >= 0.5); p95 next "
              f"{pct(phases.work.latencies.get('next', [0.0]), 95):.1f} ms, submit "
              f"{pct(phases.work.latencies.get('submit', [0.0]), 95):.1f} ms")
    paced = dict(phases.paced_work.latencies, ping=phases.paced_ping.latencies.get("ping", []))
    worst = max(pct(lat, 95) for lat in paced.values() if lat)
    print(f"annotators' pace: p95 of every endpoint (next, submit, ping) at most {worst:.1f} ms "
          f"(target < 50), {len(paced.get('submit', [])) / s['paced_work']:.1f} tasks/s")


def stored_matches(accepted: list[tuple[int, str, tuple[str, ...]]]) -> tuple[bool, str]:
    from annotation.models import Annotation

    stored = {}
    rows = Annotation.objects.filter(task__campaign__name=CAMPAIGN).values_list(
        "pk", "task_id", "annotator__username", "selected__sticker_id")
    for pk, task_id, username, sticker_id in rows:
        key = stored.setdefault(pk, [task_id, username, []])
        if sticker_id:
            key[2].append(sticker_id)
    stored_set = sorted((t, u, tuple(sorted(s))) for t, u, s in stored.values())
    ok = stored_set == sorted(accepted)
    return ok, f"stored {len(stored_set)} annotations, accepted {len(accepted)} submissions"


def open_files_raise(connections: int) -> None:
    """One socket per simulated annotator, and gunicorn inherits the limit: the soft limit on
    open files goes up to the hard one (often 1,024 soft, far more hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256  # the event loop, the database, gunicorn's own files
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        sys.exit(f"{connections} annotators need {wanted} open files; the hard limit is "
                 f"{hard} (raise it: ulimit -Hn)")


def main() -> None:
    args = parse_args()
    open_files_raise(args.annotators)
    url = bench_database_url("_bench")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPU(s); "
          f"gunicorn gthread {args.workers} workers x {args.threads} threads; "
          f"{args.annotators} simulated annotators, {args.duration:.0f} s per phase, "
          f"think {args.think_ms:.0f} ms; protocol {args.protocol}")
    database_recreate(url)
    django_setup(url, production=True)
    t0 = time.perf_counter()
    campaign, users = campaign_fill(anchors=args.anchors, annotators=args.annotators,
                                    history=args.history)
    print(f"campaign: {2 * args.anchors} tasks x {CANDIDATES} candidates "
          f"(filled in {time.perf_counter() - t0:.1f} s)")
    port = args.port or free_port()
    server = server_start(url, port, args.workers, args.threads, args.annotators)
    try:
        warm_up(port, users[0][1], args.workers * args.threads)
        phases = phases_run(args, port, campaign, users, server.pid,
                            urlparse(url).path.lstrip("/"))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print("phases (wall, joins included): " + ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in phases.seconds.items()))
    report(phases, args.think_ms)
    accepted = phases.work.accepted + phases.paced_work.accepted
    errors = phases.work.errors + phases.paced_work.errors
    ok, detail = stored_matches(accepted)
    print(f"stored == submitted: {ok} ({detail}); client-side errors: {len(errors)}")
    for err in errors[:5]:
        print("  ", err)
    sys.exit(0 if ok and not errors else 1)


if __name__ == "__main__":
    main()
