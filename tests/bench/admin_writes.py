#!/usr/bin/env python3
"""What one admin write costs, end to end: the time `PUT /api/routes/{name}` takes to answer.

An admin write answers once its change is live on the proxy, so the time covers the transaction
(validation, the write, the audit entry with its before/after documents since issue 16), the
reload's prepare and swap, and the HTTP round trip. Give it one or more gateway binaries to
compare them on the same machine, interleaved:

    python3 tests/bench/admin_writes.py --bin new=target/release/switchyard \
        --bin old=/path/to/older/switchyard --writes 400 --rounds 3

Each binary runs with a fresh data dir, one provider and `--routes` routes (so the snapshot has
some size), and the writes alternate between two versions of one route so every write changes
something. Only the standard library is used.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOKEN = "bench-admin-token-0123456789abcdef0123456789"


def start(binary, data_dir):
    """Starts a gateway on ephemeral ports and returns (process, admin host:port)."""
    proc = subprocess.Popen(
        [
            binary,
            "--data-dir", data_dir,
            "--listen", "127.0.0.1:0",
            "--admin-listen", "127.0.0.1:0",
            "--admin-token", TOKEN,
            "--request-log", "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # The server prints one `listening proxy=http://… admin=http://…` line once both sockets accept.
    for line in proc.stdout:
        if line.startswith("listening "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            return proc, fields["admin"].removeprefix("http://")
    raise SystemExit(f"{binary} exited before it listened")


def call(conn, method, path, body=None):
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return data


def route(name, model):
    return {
        "name": name,
        "match": [{"type": "exact", "value": model}],
        "upstreams": [{"provider": "bench"}],
    }


def measure(binary, writes, routes):
    with tempfile.TemporaryDirectory() as data_dir:
        proc, admin = start(binary, data_dir)
        try:
            conn = http.client.HTTPConnection(admin)
            call(conn, "POST", "/api/providers", {
                "name": "bench",
                "type": "openai-compatible",
                "base_url": "http://127.0.0.1:9/v1",
                "api_keys": ["sk-bench-0000000000000000"],
            })
            for i in range(routes):
                call(conn, "POST", "/api/routes", route(f"r{i}", f"model-{i}"))
            times = []
            for i in range(writes):
                body = route("r0", f"model-0-{i % 2}")
                started = time.perf_counter()
                call(conn, "PUT", "/api/routes/r0", body)
                times.append((time.perf_counter() - started) * 1000)
            return times
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--routes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binaries = [b.split("=", 1) for b in args.bin]
    results = {name: [] for name, _ in binaries}
    for _ in range(args.rounds):
        for name, path in binaries:
            results[name].extend(measure(os.path.abspath(path), args.writes, args.routes))
    print(f"| binary | writes | p50 ms | p90 ms | p99 ms |")
    print(f"|---|---|---|---|---|")
    for name, times in results.items():
        times.sort()
        pct = lambda q: times[min(len(times) - 1, int(q * len(times)))]
        print(f"| {name} | {len(times)} | {statistics.median(times):.2f} | {pct(0.9):.2f} | {pct(0.99):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
