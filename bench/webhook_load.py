"""Webhook load: N signed deliveries in T seconds against `reprobot serve` on loopback.

Starts `reprobot serve` as a subprocess (waitress) on a fresh queue, sends real `pull_request`
opened payloads (each a different PR/head SHA) at an even rate from a thread pool, then a few
redeliveries of ids already sent. Prints acknowledgement latency (p50/p90/p99/max), how many were
accepted, and checks the queue afterwards: one delivery row and one job per delivery, duplicates
answered 200 without new jobs, SQLite integrity ok.

    .venv/bin/python bench/webhook_load.py [--deliveries 200] [--seconds 10] [--redeliveries 20]
    .venv/bin/python bench/webhook_load.py --burst   # 200 deliveries at once from 8 concurrent senders
    .venv/bin/python bench/webhook_load.py --burst --hostile   # and 8 hostile comments + 8 surrogates

``--burst`` sends every delivery as fast as the senders can (no pacing), ``--senders`` of them at a
time (8 unless given): the p99 target (< 100 ms) must hold with every delivery committed to disk
(SQLite ``synchronous=FULL``) before its 2xx.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SHARED = next(
    (p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()), ROOT.parent / "shared"
)
FIXTURE = SHARED / "fixtures/github/webhooks/pull_request/opened.payload.json"
SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deliveries", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--redeliveries", type=int, default=20)
    ap.add_argument("--senders", type=int, default=None, help="concurrent senders (16; 8 with --burst)")
    ap.add_argument("--burst", action="store_true", help="no pacing: all deliveries at once")
    ap.add_argument(
        "--hostile",
        type=int,
        nargs="?",
        const=8,
        default=0,
        help="also send this many PR comments of 65,536 newlines (stored) and as many signed payloads "
        "with a lone surrogate in repository.full_name (answered 400, nothing stored), at once "
        "(8 when given without a number); their latency is reported apart",
    )
    args = ap.parse_args()
    if args.senders is None:
        args.senders = 8 if args.burst else 16

    tmp = Path(tempfile.mkdtemp(prefix="reprobot-bench-"))
    cfg = tmp / "reprobot.yaml"
    cfg.write_text(f"data_dir: {tmp / 'data'}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROBOT_")}
    env.update(REPROBOT_WEBHOOK_SECRET=SECRET, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print(server.stderr.read() if server.stderr else "", file=sys.stderr)
                    return 2
                time.sleep(0.1)

        template = json.loads(FIXTURE.read_text())
        bodies: list[tuple[str, bytes]] = []
        for i in range(args.deliveries):
            data = json.loads(json.dumps(template))
            data["number"] = data["pull_request"]["number"] = 1000 + i
            data["pull_request"]["base"]["ref"] = "paper/all-in-one"
            data["pull_request"]["head"]["sha"] = hashlib.sha1(f"bench{i}".encode()).hexdigest()
            bodies.append((str(uuid.uuid4()), json.dumps(data).encode()))

        comment = json.loads((FIXTURE.parent.parent / "issue_comment" / "created.payload.json").read_text())
        comment["issue"]["pull_request"] = {"url": "https://api.github.invalid/pulls/1"}
        comment["comment"]["body"] = "\n" * 65_536
        hostile_body = json.dumps(comment).encode()
        surrogate = json.loads(json.dumps(template))
        surrogate["repository"]["full_name"] = "\ud800"
        surrogate_body = json.dumps(surrogate).encode()
        local = threading.local()

        def send(delivery: str, body: bytes, event: str = "pull_request") -> tuple[int, float]:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            h = {
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": "sha256="
                + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
                "Content-Type": "application/json",
            }
            t0 = time.perf_counter()
            try:
                code = session.post(f"{base}/webhook", data=body, headers=h, timeout=10).status_code
            except requests.RequestException:
                code = 0
            return code, time.perf_counter() - t0

        interval = 0.0 if args.burst else args.seconds / max(1, args.deliveries)
        start = time.perf_counter()
        futures = []
        hostile_pool = ThreadPoolExecutor(max(1, 2 * args.hostile))
        hostile = [
            hostile_pool.submit(send, str(uuid.uuid4()), hostile_body, "issue_comment")
            for _ in range(args.hostile)
        ]
        refused = [hostile_pool.submit(send, str(uuid.uuid4()), surrogate_body) for _ in range(args.hostile)]
        with ThreadPoolExecutor(args.senders) as pool:
            for i, (delivery, body) in enumerate(bodies):
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(send, delivery, body))
            results = [f.result() for f in futures]
            wall = time.perf_counter() - start
            redelivered = [pool.submit(send, d, b).result() for d, b in bodies[: args.redeliveries]]
    finally:
        server.terminate()
        server.wait(timeout=10)

    hostile_ms = [1000 * f.result()[1] for f in hostile]
    hostile_ok = sum(1 for f in hostile if f.result()[0] == 202)
    refused_ms = [1000 * f.result()[1] for f in refused]
    refused_ok = sum(1 for f in refused if f.result()[0] == 400)
    hostile_pool.shutdown()
    latencies_ms = [1000 * lat for _, lat in results]
    accepted = sum(1 for code, _ in results if code == 202)
    dup_ok = sum(1 for code, _ in redelivered if code == 200)
    db = sqlite3.connect(tmp / "data" / "queue.sqlite3")
    deliveries = db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    jobs = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    distinct = db.execute("SELECT COUNT(DISTINCT repo || pr || head_sha) FROM jobs").fetchone()[0]
    queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    consistent = (
        deliveries == args.deliveries + args.hostile
        and jobs == distinct == queued == args.deliveries
        and integrity == "ok"
    )

    print(
        f"deliveries sent      {args.deliveries} in {wall:.2f} s ({args.deliveries / wall:.1f}/s, "
        f"{args.senders} sender threads{', burst' if args.burst else ''})"
    )
    print(f"accepted (202)       {accepted}/{args.deliveries}  dropped/failed {args.deliveries - accepted}")
    print(
        f"ack latency ms       p50 {percentile(latencies_ms, 50):.1f}  "
        f"p90 {percentile(latencies_ms, 90):.1f}  "
        f"p99 {percentile(latencies_ms, 99):.1f}  max {max(latencies_ms):.1f}  "
        f"mean {statistics.mean(latencies_ms):.1f}"
    )
    print(
        f"redeliveries         {dup_ok}/{len(redelivered)} answered 200 (duplicate), no new jobs: "
        f"{jobs == args.deliveries}"
    )
    print(
        f"queue afterwards     deliveries {deliveries}, jobs {jobs} (distinct {distinct}, queued {queued}), "
        f"integrity {integrity} -> {'consistent' if consistent else 'INCONSISTENT'}"
    )
    if hostile_ms:
        print(
            f"hostile comments     {hostile_ok}/{len(hostile_ms)} x 65,536 newlines accepted (202): "
            f"ack ms max {max(hostile_ms):.1f}  mean {statistics.mean(hostile_ms):.1f}"
        )
        print(
            f"lone surrogates      {refused_ok}/{len(refused_ms)} answered 400 (nothing stored): "
            f"ms max {max(refused_ms):.1f}  mean {statistics.mean(refused_ms):.1f}"
        )
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    print(f"machine              {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) after the run")
    target = percentile(latencies_ms, 99) < 100
    print(f"target p99 < 100 ms  {'met' if target else 'MISSED'}")
    all_hostile = hostile_ok == len(hostile_ms) and refused_ok == len(refused_ms)
    answered = accepted == args.deliveries and dup_ok == len(redelivered) and all_hostile
    return 0 if consistent and answered else 1


if __name__ == "__main__":
    sys.exit(main())
