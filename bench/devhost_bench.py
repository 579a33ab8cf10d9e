"""Devhost benchmark: Durable latency and throughput over real HTTP, in-memory and SQLite stores.

Figures printed:
- start->completion latency of a 10-activity chain (median of 20), target < 0.5 s;
- wall time for 200 concurrent 5-activity orchestrations, target < 20 s;
each next to a baseline measured in the same run: the same activities called directly in
process (no host), and the in-memory store as the baseline for the SQLite store.
"""

from __future__ import annotations

import http.client
import json
import logging
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tools.devhost import DevHost

APP = Path(__file__).resolve().parents[1] / "tests" / "devhost" / "apps" / "durable"
CHAIN = [f"city-{n}" for n in range(10)]
SMALL = [f"town-{n}" for n in range(5)]
CHAIN_TARGET = 0.5
THROUGHPUT_TARGET = 20.0


class Client:
    """A keep-alive HTTP client for one thread."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def call(self, method: str, path: str, body: str | None = None) -> tuple[int, Any]:
        self.connection.request(method, path, body=body)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def close(self) -> None:
        self.connection.close()


def run_chain(client: Client, names: list[str], instance_id: str) -> float:
    started = time.perf_counter()
    status, body = client.call("POST", f"/api/start/chain/{instance_id}", json.dumps(names))
    assert status == 202, body
    path = "/durabletask/instances/" + instance_id
    while True:
        status, body = client.call("GET", path)
        if status == 200:
            assert body["runtimeStatus"] == "Completed", body
            return time.perf_counter() - started
        time.sleep(0.002)


def chain_latency(host: DevHost) -> float:
    client = Client(host.base_url)
    try:
        run_chain(client, CHAIN, f"warm-{uuid.uuid4().hex}")
        samples = [run_chain(client, CHAIN, f"lat-{uuid.uuid4().hex}") for _ in range(20)]
    finally:
        client.close()
    return statistics.median(samples)


def throughput(host: DevHost, count: int = 200) -> float:
    prefix = f"tp-{uuid.uuid4().hex[:8]}-"
    started = time.perf_counter()

    def start(n: int) -> None:
        client = Client(host.base_url)
        try:
            status, body = client.call("POST", f"/api/start/chain/{prefix}{n:04d}", json.dumps(SMALL))
            assert status == 202, body
        finally:
            client.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(start, range(count)))
    client = Client(host.base_url)
    try:
        while True:
            query = f"/durabletask/instances/?instanceIdPrefix={prefix}&runtimeStatus=Completed&top={count}"
            _, done = client.call("GET", query)
            if len(done) >= count:
                break
            time.sleep(0.02)
    finally:
        client.close()
    return time.perf_counter() - started


def direct_baseline(host: DevHost) -> tuple[float, float]:
    """The same activity bodies called in process: 10 in a row, and 200 x 5."""
    hello = host.module.hello
    started = time.perf_counter()
    for name in CHAIN:
        hello(name)
    chain = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(200):
        for name in SMALL:
            hello(name)
    return chain, time.perf_counter() - started


def measure(**options: Any) -> tuple[float, float, tuple[float, float]]:
    with DevHost(APP, port=0, settings={"DEVHOST_TEST_HUB": "Bench"}, **options) as host:
        return chain_latency(host), throughput(host), direct_baseline(host)


def verdict(value: float, target: float) -> str:
    return "ok" if value < target else "MISSED"


def main() -> None:
    logging.getLogger("devhost").setLevel(logging.WARNING)
    logging.getLogger("azure").setLevel(logging.WARNING)
    memory_chain, memory_tp, (direct_chain, direct_tp) = measure(memory=True)
    with tempfile.TemporaryDirectory() as folder:
        sqlite_chain, sqlite_tp, _ = measure(store=folder)
    print(f"{'figure':<48}{'value':>10}{'target':>10}  {'vs baseline':<34}")
    rows = [
        (
            "10-activity chain, median of 20 (memory)",
            memory_chain,
            CHAIN_TARGET,
            f"x{memory_chain / direct_chain:,.0f} vs direct calls ({direct_chain * 1e6:.0f} us)",
        ),
        (
            "10-activity chain, median of 20 (SQLite)",
            sqlite_chain,
            CHAIN_TARGET,
            f"x{sqlite_chain / memory_chain:.2f} vs memory store",
        ),
        (
            "200 x 5-activity orchestrations (memory)",
            memory_tp,
            THROUGHPUT_TARGET,
            f"x{memory_tp / direct_tp:,.0f} vs direct calls ({direct_tp * 1e3:.1f} ms)",
        ),
        (
            "200 x 5-activity orchestrations (SQLite)",
            sqlite_tp,
            THROUGHPUT_TARGET,
            f"x{sqlite_tp / memory_tp:.2f} vs memory store",
        ),
    ]
    for label, value, target, ratio in rows:
        print(f"{label:<48}{value:>9.3f}s{'< ' + str(target) + 's':>10}  {ratio:<34} {verdict(value, target)}")
    print(f"throughput: memory {1000 / memory_tp:.0f} activities/s, SQLite {1000 / sqlite_tp:.0f} activities/s")


if __name__ == "__main__":
    main()
