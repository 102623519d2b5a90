"""What one stored event costs to encode and to insert, by JSON encoder and by column type.

    python -m bench.event_encoding [--events 50000] [--runs 3]

Two measurements on the ingest benchmark's synthetic events (bench/ingest_events.py, about 1.1 KB
each as JSON), each side alternating with the other:

(a) encoding ``event_data``: ``json.dumps`` (compact separators) against ``orjson.dumps`` as the sink
    calls it, in µs per event (median of ``--runs``);
(b) server CPU of a ``COPY`` of the same rows, in transactions of 2,000 as the sink commits them,
    into a temporary table shaped like ``jobs_event`` with a unique (job, seq) index, once with
    ``event_data`` as ``jsonb`` and once as ``json``: the PostgreSQL backend's CPU from
    /proc/<pid>/stat (the database runs on this machine), in µs per event.

Needs PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); it only
creates temporary tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime

import orjson
import psycopg

from bench.common import machine
from bench.ingest_events import make_events

CLK_TCK = os.sysconf("SC_CLK_TCK")
BATCH = 2000
COLUMNS = "job_id, step_id, counter, seq, uuid, event, host, task, play, stdout, created, event_data"


def backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def encode_us(encode, data: list[dict]) -> float:
    started = time.perf_counter()
    for item in data:
        encode(item)
    return (time.perf_counter() - started) * 1e6 / len(data)


def copy_us(conn: psycopg.Connection, pid: int, column_type: str, rows: list[tuple]) -> float:
    conn.execute("DROP TABLE IF EXISTS bench_event")
    conn.execute(
        "CREATE TEMPORARY TABLE bench_event (id bigserial PRIMARY KEY, job_id int, step_id int, "
        "counter int, seq bigint, uuid varchar(36), event varchar(64), host varchar(255), "
        f"task varchar(500), play varchar(500), stdout text, created timestamptz, event_data {column_type}, "
        "UNIQUE (job_id, seq))"
    )
    before = backend_cpu(pid)
    for first in range(0, len(rows), BATCH):
        with conn.transaction(), conn.cursor().copy(f"COPY bench_event ({COLUMNS}) FROM STDIN") as copy:
            for row in rows[first : first + BATCH]:
                copy.write_row(row)
    return (backend_cpu(pid) - before) * 1e6 / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    events = make_events(args.events, 50)
    data = [e["event_data"] for e in events]
    encoders = {
        "json.dumps": lambda d: json.dumps(d, separators=(",", ":"), default=str),
        "orjson.dumps": lambda d: orjson.dumps(d, default=str, option=orjson.OPT_NON_STR_KEYS).decode(),
    }
    encoded = {name: [] for name in encoders}
    for _ in range(args.runs):
        for name, encode in encoders.items():
            encoded[name].append(encode_us(encode, data))

    now = datetime.now(UTC)
    rows = [
        (1, 1, e["counter"], 10**9 + e["counter"], e["uuid"], e["event"], e["event_data"].get("host") or "",
         e["event_data"].get("task") or "", e["event_data"].get("play") or "", e["stdout"] or "", now,
         orjson.dumps(e["event_data"]).decode())
        for e in events
    ]  # fmt: skip
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    server = {"jsonb": [], "json": []}
    with psycopg.connect(url, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        copy_us(conn, pid, "jsonb", rows[:BATCH])  # warm-up
        for _ in range(args.runs):
            for column_type in server:
                server[column_type].append(copy_us(conn, pid, column_type, rows))

    size = statistics.mean(len(json.dumps(d)) for d in data[:5000])
    print(
        f"machine: {machine()}; {args.events:,} events, event_data {size:.0f} B on average; {args.runs} runs"
    )
    for name, values in encoded.items():
        spread = f"{min(values):.2f}–{max(values):.2f}"
        print(f"encode {name:13s}: median {statistics.median(values):5.2f} µs/event ({spread})")
    for column_type, values in server.items():
        spread = f"{min(values):.1f}–{max(values):.1f}"
        median = statistics.median(values)
        print(f"COPY into {column_type:5s}: median {median:5.1f} µs/event server CPU ({spread})")


if __name__ == "__main__":
    main()
