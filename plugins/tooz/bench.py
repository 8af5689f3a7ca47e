"""One tooz client's figures on several backends, side by side in one run.

    python bench.py URL [URL ...]      (ROSTER_BENCH_SECONDS, default 10 per figure)

For each URL: joins and leaves per second (one client, each call waited for), lock acquire
and release pairs per second (one client, one lock, never contended), and the time from a
member's join returning to the callback of another client that calls ``run_watchers`` in a
loop (p50 and p99 over the joins). tooz's own drivers read the whole
membership of every watched group at each ``run_watchers`` and compare it with the last;
roster:// reads only the changes since its last call.
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


def new_id() -> bytes:
    return uuid.uuid4().hex.encode("ascii")


def joins_and_leaves(url: str) -> float:
    """Join-and-leave pairs per second of one client."""
    c = coordination.get_coordinator(url, new_id())
    c.start()
    group = new_id()
    c.create_group(group).get()
    pairs = 0
    until = time.monotonic() + SECONDS
    started = time.monotonic()
    while time.monotonic() < until:
        c.join_group(group).get()
        c.leave_group(group).get()
        pairs += 1
    elapsed = time.monotonic() - started
    c.delete_group(group).get()
    c.stop()
    return pairs / elapsed


def lock_pairs(url: str) -> float | None:
    """Acquire-and-release pairs per second of one client on one lock; ``None`` for a
    backend that offers no locks."""
    c = coordination.get_coordinator(url, new_id())
    c.start()
    lock = c.get_lock(new_id())
    pairs = 0
    try:
        until = time.monotonic() + SECONDS
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


def join_to_callback(url: str) -> list[float]:
    """Seconds from a join returning to the watcher's callback, for each join."""
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
    until = time.monotonic() + SECONDS
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


def main(urls: list[str]) -> None:
    print(f"one tooz client per backend, {SECONDS:.0f} s per figure")
    print(
        f"{'backend':<48} {'join+leave pairs/s':>18} {'lock pairs/s':>12}"
        f" {'join→callback p50':>18} {'p99':>9}"
    )
    for url in urls:
        rate = joins_and_leaves(url)
        locks = lock_pairs(url)
        locked = "n/a" if locks is None else f"{locks:.0f}"
        samples = sorted(join_to_callback(url))
        p50 = statistics.median(samples) * 1e3
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3
        print(f"{url:<48} {rate:>18.0f} {locked:>12} {p50:>15.2f} ms {p99:>6.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
