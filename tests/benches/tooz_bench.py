"""tooz on the same server as Roster, for the side-by-side benchmark (benches/drivers.rs).

Usage: tooz_bench.py URL GROUPS MEMBERS. Prints one JSON object:
- joins_per_s, leaves_per_s: one coordinator joins GROUPS groups, then leaves them;
- get_members_p50_ms: get_members of one group of MEMBERS live members (null when MEMBERS
  is 0: throughput only).

Usage: tooz_bench.py URL GROUPS --many. One of many processes started together: creates
GROUPS groups, prints "ready", waits for a line on its input, joins them all, leaves them
all, and prints "done", so the caller times every process's changes between one start and
the last "done".
"""

import json
import statistics
import sys
import time
import uuid
from typing import Any

from tooz import coordination


def started_with_groups(url: str, label: str, groups: int) -> tuple[Any, list[bytes], str]:
    """A started coordinator, GROUPS groups it created, and the run's id."""
    run = uuid.uuid4().hex
    client = coordination.get_coordinator(url, f"bench-{label}-{run}".encode())
    client.start()
    names = [f"{label}-{run}-{i}".encode() for i in range(groups)]
    for g in names:
        client.create_group(g).get()
    return client, names, run


def many(url: str, groups: int) -> None:
    client, names, _ = started_with_groups(url, "many", groups)
    print("ready", flush=True)
    sys.stdin.readline()
    for g in names:
        client.join_group(g).get()
    for g in names:
        client.leave_group(g).get()
    print("done", flush=True)
    client.stop()


def main() -> None:
    if sys.argv[3] == "--many":
        many(sys.argv[1], int(sys.argv[2]))
        return
    url, groups, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client, names, run = started_with_groups(url, "client", groups)
    t = time.perf_counter()
    for g in names:
        client.join_group(g).get()
    joins = groups / (time.perf_counter() - t)
    t = time.perf_counter()
    for g in names:
        client.leave_group(g).get()
    leaves = groups / (time.perf_counter() - t)
    if members == 0:
        client.stop()
        print(json.dumps({"joins_per_s": joins, "leaves_per_s": leaves, "get_members_p50_ms": None}))
        return

    big = f"big-{run}".encode()
    client.create_group(big).get()
    # MEMBERS live members. On Redis they are written in the keys tooz's own join_group and
    # heartbeat write (its key helpers, one pipeline): ten thousand coordinators, each with an
    # executor thread, would slow the measuring process itself, and only the read is measured.
    # On etcd they are the keys tooz's join_group puts, on a lease of their own that outlives
    # the run: tooz's join reads the whole group first, so coordinators joining one by one
    # slow down as it grows and their leases expire before ten thousand are in. On other
    # backends each member is a coordinator of its own, kept started.
    loaders = []
    if url.startswith("etcd3+http://"):
        from tooz import utils

        lease = client.client.lease(600)
        prefix = client._prefix_group(big)
        for i in range(members):
            member = f"m{i}-{run}".encode()
            client.client.put((prefix + member).decode(), utils.dumps(None), lease=lease)
    elif url.startswith("redis://"):
        pipe = client._client.pipeline(transaction=False)
        expiry_ms = int(client.membership_timeout * 1000)
        group_key = client._encode_group_id(big)
        for i in range(members):
            member = f"m{i}-{run}".encode()
            pipe.hset(group_key, client._encode_member_id(member), client._dumps(None))
            pipe.psetex(client._encode_beat_id(member), expiry_ms, client.STILL_ALIVE)
        pipe.execute()
    else:
        for i in range(members):
            member = coordination.get_coordinator(url, f"m{i}-{run}".encode())
            member.start()
            member.join_group(big).get()
            loaders.append(member)
    reads = []
    for _ in range(5 if members <= 1000 else 21):
        t = time.perf_counter()
        got = client.get_members(big).get()
        reads.append((time.perf_counter() - t) * 1e3)
        assert len(got) == members, len(got)
    client.stop()
    print(
        json.dumps(
            {
                "joins_per_s": joins,
                "leaves_per_s": leaves,
                "get_members_p50_ms": statistics.median(reads),
            }
        )
    )


if __name__ == "__main__":
    main()
