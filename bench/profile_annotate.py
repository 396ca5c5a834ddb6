"""CPU per request of the annotator's hot path, in-process: submit-and-next beside a ping.

    .venv/bin/python bench/profile_annotate.py --requests 600 [--cprofile out.prof]

Fills a campaign as ``bench_annotate_load.py`` does (database ``<DATABASE_URL>_profile``, the
embedded server when DATABASE_URL is unset), then sends requests straight into the WSGI
application (``config.wsgi``: every middleware, DRF, token auth), with no HTTP server and no
network in between: each of ``--annotators`` accounts in turn submits an answer with
``?next=<campaign>`` (the annotator page's protocol) and gets its next task, and the same
accounts ping. Prints, per request, the CPU time of this process (Django and the database
client) and of its PostgreSQL backend (read from /proc), alternating ping and submit rounds so
that a machine shared with other work slows both alike. Runs unchanged on an older checkout
(``git worktree add``) to compare commits.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_annotate_load import (  # noqa: E402  (after the path)
    CAMPAIGN,
    campaign_fill,
)
from bench.databases import database_recreate  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=600, help="submit-and-next requests")
    p.add_argument("--rounds", type=int, default=6, help="alternating ping / submit rounds")
    p.add_argument("--annotators", type=int, default=20)
    p.add_argument("--anchors", type=int, default=3000, help="tasks = 2 x anchors")
    p.add_argument("--history", type=int, default=1000)
    p.add_argument("--cprofile", default="", help="write the submit rounds' profile here")
    p.add_argument("--function-stats", action="store_true",
                   help="print PostgreSQL's time per SQL function (track_functions = all)")
    return p.parse_args()


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from config.embedded_postgres import database_url as embedded_url
        from config.embedded_postgres import default_pgdata, ensure_server

        var_dir = Path(os.environ.get("STICKERSIM_VAR_DIR", REPO / "var"))
        url = embedded_url(ensure_server(default_pgdata(var_dir)))
    parsed = urlparse(url)
    return parsed._replace(path=parsed.path + "_profile").geturl()


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by one PostgreSQL backend."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Wsgi:
    """Requests straight into the WSGI application, as gunicorn would hand them over."""

    def __init__(self, application) -> None:
        self.application = application

    def call(self, method: str, path: str, token: str,
             body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else b""
        route, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": route, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Token {token}",
            "HTTP_ACCEPT": "application/json", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        status = []
        chunks = self.application(environ, lambda s, h, e=None: status.append(s))
        payload = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0]), (json.loads(payload) if payload else {})


def function_stats_print(connection, requests: int) -> None:
    """Calls and time per request of each SQL function (self: without the functions it
    called), from pg_stat_user_functions."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(1.5)  # the statistics reach the shared view once the backend is idle
        cur.execute("SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions "
                    "ORDER BY self_time DESC")
        rows = cur.fetchall()
    print(f"{'SQL function':<32} {'calls/req':>9} {'total ms/req':>12} {'self ms/req':>11}")
    for name, calls, total, own in rows:
        print(f"{name:<32} {calls / requests:>9.2f} {total / requests:>12.3f} "
              f"{own / requests:>11.3f}")


def main() -> None:
    args = parse_args()
    url = database_url()
    database_recreate(url)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
                      DJANGO_DEBUG="0", DATABASE_CONN_MAX_AGE="600", LOG_LEVEL="WARNING",
                      DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_SECURE_SSL_REDIRECT="0",
                      DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY",
                                                       secrets.token_urlsafe(50)))
    import django

    django.setup()
    _, users = campaign_fill(anchors=args.anchors, annotators=args.annotators,
                             history=args.history)
    from django.db import connection

    from config.wsgi import application

    client = Wsgi(application)
    tokens = [token for _, token in users]
    tasks = {}
    for token in tokens:  # each account holds one task, as the page does
        status, task = client.call("POST", f"/api/campaigns/{CAMPAIGN}/tasks/next/", token)
        assert status == 200, (status, task)
        tasks[token] = task
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
        if args.function_stats:
            cur.execute("SET track_functions = 'all'")
            cur.execute("SELECT pg_stat_reset()")

    def submit(token: str) -> None:
        task = tasks[token]
        body = {"selected": [c["sticker_id"] for c in task["candidates"][:2]],
                "submission_id": f"{token[:8]}-{task['id']}", "duration_ms": 1500}
        status, answer = client.call("POST", f"/api/tasks/{task['id']}/submit/?next={CAMPAIGN}",
                                     token, body)
        assert status == 201 and answer["next"], (status, answer)
        tasks[token] = answer["next"]

    def ping(token: str) -> None:
        status, _ = client.call("GET", "/api/ping/", token)
        assert status == 200, status

    for _ in range(50):  # warm: plans cached, lazy imports done
        ping(tokens[0])
    totals = {"ping": [0.0, 0.0, 0], "submit": [0.0, 0.0, 0]}
    profiler = cProfile.Profile() if args.cprofile else None
    per_round = max(1, args.requests // args.rounds)
    for _ in range(args.rounds):
        for name, request in (("ping", ping), ("submit", submit)):
            cpu0, db0 = time.process_time(), backend_cpu(backend)
            if profiler and name == "submit":
                profiler.enable()
            for i in range(per_round):
                request(tokens[i % len(tokens)])
            if profiler and name == "submit":
                profiler.disable()
            totals[name][0] += time.process_time() - cpu0
            totals[name][1] += backend_cpu(backend) - db0
            totals[name][2] += per_round
    print(f"{'request':<8} {'n':>6} {'python ms':>10} {'postgres ms':>12}   (CPU per request)")
    for name, (cpu, db, n) in totals.items():
        print(f"{name:<8} {n:>6} {1000 * cpu / n:>10.3f} {1000 * db / n:>12.3f}")
    if args.function_stats:
        function_stats_print(connection, totals["submit"][2] + totals["ping"][2])
    if profiler:
        profiler.dump_stats(args.cprofile)
        pstats.Stats(args.cprofile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
