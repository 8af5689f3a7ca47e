"""One tooz client's figures on several backends, side by side in one run.

    python bench.py URL [URL ...]      (ROSTER_BENCH_SECONDS, default 10 per figure;
                                        ROSTER_BENCH_ROUNDS, default 5)

For each URL: joins and leaves per second (one client, each call waited for), lock acquire
and release pairs per second (one client, one lock, never contended), and the time from a
member's join returning to the callback of another client that calls ``run_watchers`` in a
loop (p50 and p99 over the joins). tooz's own drivers read the whole
membership of every watched group at each ``run_watchers`` and compare it with the last;
roster:// reads only the changes since its last call.

Each figure is measured in rounds that alternate between the URLs, so a change in the
machine's speed during the run falls on every backend alike; a rate is the median of its
rounds, and the ratio beside it is to the first URL's median.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
import uuid

import tooz
from tooz import coordination

SECONDS = float(os.environ.get("ROSTER_BENCH_SECONDS", "10"))
ROUNDS = max(1, int(os.environ.get("ROSTER_BENCH_ROUNDS", "5")))


def new_id() -> bytes:
    return uuid.uuid4().hex.encode("ascii")


def joins_and_leaves(url: str, seconds: float) -> float:
    """Join-and-leave pairs per second of one client, for ``seconds``."""
    c = coordination.get_coordinator(url, new_id())
    c.start()
    group = new_id()
    c.create_group(group).get()
    pairs = 0
    until = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < until:
        c.join_group(group).get()
        c.leave_group(group).get()
        pairs += 1
    elapsed = time.monotonic() - started
    c.delete_group(group).get()
    c.stop()
    return pairs / elapsed


def lock_pairs(url: str, seconds: float) -> float | None:
    """Acquire-and-release pairs per second of one client on one lock, for ``seconds``;
    ``None`` for a backend that offers no locks."""
    c = coordination.get_coordinator(url, new_id())
    c.start()
    lock = c.get_lock(new_id())
    pairs = 0
    try:
        until = time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < until:
            if not lock.acquire(blocking=False):
                raise RuntimeError(f"{url}: an uncontended lock was refused")
            lock.release()
            pairs += 1
        return pairs / (time.monotonic() - started)
    except tooz.NotImplemented:
        return None
    finally:
        c.stop()


def join_to_callback(url: str, seconds: float) -> list[float]:
    """Seconds from a join returning to the watcher's callback, for each join made in
    ``seconds``."""
    watcher = coordination.get_coordinator(url, new_id())
    joiner = coordination.get_coordinator(url, new_id())
    watcher.start()
    joiner.start()
    group = new_id()
    watcher.create_group(group).get()
    seen = threading.Event()
    watcher.watch_join_group(group, lambda event: seen.set())
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            watcher.run_watchers()

    polling = threading.Thread(target=poll, daemon=True)
    polling.start()
    samples = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        seen.clear()
        joiner.join_group(group).get()
        joined = time.monotonic()
        if not seen.wait(10):
            raise RuntimeError(f"{url}: no callback within 10 s of a join")
        samples.append(time.monotonic() - joined)
        joiner.leave_group(group).get()
        # The leave is seen before the next join: run_watchers reports it to nobody.
        time.sleep(0.01)
    stop.set()
    polling.join()
    joiner.stop()
    watcher.stop()
    return samples


def rate_cell(rates: list[float | None], first: float | None, show_ratio: bool) -> str:
    """A rate's cell: the median of its rounds, and its ratio to the first URL's."""
    if any(r is None for r in rates):
        return "n/a"
    median = statistics.median(rates)
    if not show_ratio or not first:
        return f"{median:.0f}"
    return f"{median:.0f} ({median / first:.2f}x)"


def main(urls: list[str]) -> None:
    if not urls:
        sys.exit(__doc__)
    per_round = SECONDS / ROUNDS
    print(
        f"one tooz client per backend, {SECONDS:g} s per figure in {ROUNDS} rounds alternating"
        " between the backends; medians of the rounds, ratios to the first backend"
    )
    joins: dict[str, list[float | None]] = {url: [] for url in urls}
    locks: dict[str, list[float | None]] = {url: [] for url in urls}
    callbacks: dict[str, list[float]] = {url: [] for url in urls}
    for _ in range(ROUNDS):
        for url in urls:
            joins[url].append(joins_and_leaves(url, per_round))
        for url in urls:
            locks[url].append(lock_pairs(url, per_round))
        for url in urls:
            callbacks[url].extend(join_to_callback(url, per_round))
    print(
        f"{'backend':<34} {'join+leave pairs/s':>18} {'lock pairs/s':>16}"
        f" {'join→callback p50':>18} {'p99':>9}"
    )
    first_joins = statistics.median(joins[urls[0]])
    first_locks = None if None in locks[urls[0]] else statistics.median(locks[urls[0]])
    for index, url in enumerate(urls):
        samples = sorted(callbacks[url])
        p50 = statistics.median(samples) * 1e3
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3
        print(
            f"{url:<34} {rate_cell(joins[url], first_joins, index > 0):>18}"
            f" {rate_cell(locks[url], first_locks, index > 0):>16}"
            f" {p50:>15.2f} ms {p99:>6.2f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
