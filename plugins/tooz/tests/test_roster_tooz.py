"""roster-tooz against a running ``roster serve`` (``ROSTER_TOOZ_URL``, e.g.
``roster://127.0.0.1:7878``): tooz's own examples run unchanged but for their URL, what
Roster's change feed adds over drivers that compare snapshots, and what its locks add over
tooz's (released with their holder's session, served in order, fencing tokens).

``ROSTER_TOOZ_EXAMPLES`` names the ``examples`` directory of tooz's source distribution;
``plugins/tooz/check`` sets both.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
import tooz
from tooz import coordination

URL = os.environ["ROSTER_TOOZ_URL"]
EXAMPLES = pathlib.Path(os.environ["ROSTER_TOOZ_EXAMPLES"])


def new_id() -> bytes:
    return uuid.uuid4().hex.encode("ascii")


@pytest.fixture
def coordinator():
    c = coordination.get_coordinator(URL, new_id())
    c.start()
    yield c
    c.stop()


def coordinator_examples() -> list[str]:
    """tooz's examples that make a coordinator (``hashring.py`` makes none)."""
    return sorted(
        p.name
        for p in EXAMPLES.glob("*.py")
        if "get_coordinator(" in p.read_text()
    )


@pytest.mark.parametrize("example", coordinator_examples())
def test_tooz_examples_run_unchanged_but_for_their_url(example, tmp_path):
    source = (EXAMPLES / example).read_text()
    # The one backend URL each example names, as a string literal.
    changed, count = re.subn(r"'[a-z0-9+]+://[^']*'", repr(URL), source)
    assert count == 1, f"{example} names {count} URLs"
    script = tmp_path / example
    script.write_text(changed)
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def test_a_join_and_a_leave_between_two_polls_are_both_seen_in_order(coordinator):
    group = new_id()
    coordinator.create_group(group).get()
    seen = []
    coordinator.watch_join_group(group, lambda e: seen.append(("joined", e.member_id)))
    coordinator.watch_leave_group(group, lambda e: seen.append(("left", e.member_id)))
    other = coordination.get_coordinator(URL, new_id())
    other.start()
    try:
        other.join_group(group, {"weight": 2}).get()
        other.leave_group(group).get()
        other.join_group(group).get()
    finally:
        other.stop()
    coordinator.run_watchers()
    member = other._member_id
    assert seen == [("joined", member), ("left", member), ("joined", member), ("left", member)]
    # Nothing is reported twice.
    assert coordinator.run_watchers() == []


def test_members_present_when_the_watch_starts_are_not_reported_as_joining(coordinator):
    group = new_id()
    coordinator.create_group(group).get()
    coordinator.join_group(group).get()
    seen = []
    coordinator.watch_join_group(group, seen.append)
    assert coordinator.run_watchers() == []
    assert seen == []


def test_capabilities_round_trip_any_value_tooz_accepts(coordinator):
    group = new_id()
    coordinator.create_group(group).get()
    caps = {"host": "10.0.0.1", "ports": [80, 443], "weight": 2.5, "raw": b"\x00\xff"}
    coordinator.join_group(group, caps).get()
    member = coordinator._member_id
    assert coordinator.get_member_capabilities(group, member).get() == caps
    coordinator.update_capabilities(group, {"weight": 3}).get()
    info = coordinator.get_member_info(group, member).get()
    assert info["capabilities"] == {"weight": 3}
    assert info["created_at"] <= info["updated_at"]


def test_errors_are_toozs_exceptions(coordinator):
    group = new_id()
    with pytest.raises(coordination.GroupNotCreated):
        coordinator.join_group(group).get()
    coordinator.create_group(group).get()
    with pytest.raises(coordination.GroupAlreadyExist):
        coordinator.create_group(group).get()
    with pytest.raises(coordination.MemberNotJoined):
        coordinator.leave_group(group).get()
    coordinator.join_group(group).get()
    with pytest.raises(coordination.MemberAlreadyExist):
        coordinator.join_group(group).get()
    with pytest.raises(coordination.GroupNotEmpty):
        coordinator.delete_group(group).get()


def test_a_lock_goes_with_its_holders_session_and_the_next_waiter_gets_it(coordinator):
    name = new_id()
    other = coordination.get_coordinator(URL, new_id())
    other.start()
    held = other.get_lock(name)
    assert held.acquire(blocking=False)
    first = held.token
    waiter = coordinator.get_lock(name)
    got = []
    thread = threading.Thread(target=lambda: got.append(waiter.acquire(blocking=10)))
    thread.start()
    # No lock timeout to wait for: stopping the holder's coordinator releases its lock.
    other.stop()
    thread.join(15)
    assert got == [True]
    assert waiter.token > first, "fencing tokens only grow"
    assert waiter.is_still_owner()
    assert waiter.release()
    assert not waiter.release(), "released once"


def test_waiters_are_served_in_arrival_order(coordinator):
    name = new_id()
    holder = coordinator.get_lock(name)
    assert holder.acquire()
    order = []
    others = []
    threads = []
    for i in range(3):
        c = coordination.get_coordinator(URL, new_id())
        c.start()
        others.append(c)
        lock = c.get_lock(name)

        def take(lock=lock, i=i):
            assert lock.acquire(blocking=10)
            order.append(i)
            lock.release()

        thread = threading.Thread(target=take)
        thread.start()
        threads.append(thread)
        # The next one queues only once this one is in the queue.
        wait_until(lambda n=i + 1: len(waiters(coordinator, name)) == n)
    holder.release()
    for thread in threads:
        thread.join(15)
    for c in others:
        c.stop()
    assert order == [0, 1, 2]


def waiters(coordinator, name: bytes) -> list:
    return coordinator._client.call("GET", ["locks", name.decode()])["waiters"]


def wait_until(check, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_ids_that_are_not_utf8_are_refused_with_their_value():
    with pytest.raises(ValueError, match="not UTF-8"):
        coordination.get_coordinator(URL, b"\xff\xfe")


def test_an_unreachable_daemon_is_a_connection_error():
    c = coordination.get_coordinator("roster://127.0.0.1:1", new_id())
    with pytest.raises(coordination.ToozConnectionError):
        c.start()
