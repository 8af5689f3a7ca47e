"""``roster://``: a tooz coordinator backed by a ``roster serve`` daemon.

``coordination.get_coordinator('roster://HOST:PORT', b'host-1')`` gives a tooz coordinator
whose state lives in Roster. ``start`` opens a session of the daemon for the member, tooz's
heart thread heartbeats it, ``stop`` closes it (its memberships and candidacies go with it).
Watchers are fed by the daemon's ordered change feed: ``run_watchers`` reads the changes made
since its last call, in revision order, so a join and a leave between two calls are both
reported, in order, where drivers that compare snapshots see neither. Members present when a
group's first watch starts produce no join event, as in tooz.

URL options (as tooz drivers take them): ``timeout`` (seconds a member lives without a
heartbeat; the daemon's default otherwise), ``token`` or ``token_file`` (for a daemon that
asks for a bearer token), ``tls=true`` and ``ca_file`` (for a daemon serving HTTPS).
Several daemons of one store: ``roster://H1:P1,H2:P2``.

Locks (``get_lock``) are the store's: held by the coordinator's session, so released when it
stops or expires rather than after a lock timeout; exclusive or shared; waiters served in
arrival order; every acquisition has a fencing token (``lock.token``), which only grows.

Ids: tooz's bytes ids are Roster's string ids, UTF-8; anything else is refused with a
``ValueError`` naming the id. Capabilities are stored as tooz's other drivers store them
(msgpack), so they round-trip any value tooz accepts.
"""

from __future__ import annotations

import base64
import collections
import threading
import time
import weakref
from typing import Any, Callable, TypeVar

import tooz
from tooz import coordination, locking, utils

from roster_tooz.client import Client, RosterError

T = TypeVar("T")

#: Changes read per call of the change feed.
BATCH = 1000

#: The longest the daemon waits for a lock's grant in one request (its API's limit); a
#: longer wait asks again, keeping its place in the lock's queue.
MAX_LOCK_WAIT = 60.0


class Done(coordination.CoordAsyncResult[T]):
    """A call already made: its value, or the error ``get`` raises."""

    def __init__(self, call: Callable[[], T]) -> None:
        try:
            self._value: T | None = call()
            self._error: BaseException | None = None
        except tooz.ToozError as error:
            self._value, self._error = None, error

    def get(self, timeout: float | None = None) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def done(self) -> bool:
        return True


def text(id_: bytes | str, kind: str) -> str:
    """A tooz id as Roster's string id."""
    if isinstance(id_, str):
        return id_
    try:
        return id_.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{kind} id {id_!r} is not UTF-8: Roster's ids are text") from None


def encode_capabilities(capabilities: Any) -> dict[str, str] | str:
    """Capabilities as the API takes them: none (`None`) is the empty string."""
    if capabilities is None:
        return ""
    return {"base64": base64.b64encode(utils.dumps(capabilities)).decode("ascii")}


def decode_capabilities(value: Any) -> Any:
    if isinstance(value, dict) and "base64" in value:
        raw = base64.b64decode(value["base64"])
    else:
        raw = str(value).encode("utf-8")
    if not raw:
        return None
    return utils.loads(raw)


def option(options: dict[str, Any], name: str) -> str | None:
    values = options.get(name)
    if not values:
        return None
    return values[-1] if isinstance(values, list) else values


class RosterDriver(coordination.CoordinationDriver):
    """A tooz coordinator on a ``roster serve`` daemon (see the module's documentation)."""

    CHARACTERISTICS = (
        coordination.Characteristics.DISTRIBUTED_ACROSS_THREADS,
        coordination.Characteristics.DISTRIBUTED_ACROSS_PROCESSES,
        coordination.Characteristics.DISTRIBUTED_ACROSS_HOSTS,
        coordination.Characteristics.LINEARIZABLE,
        coordination.Characteristics.SEQUENTIAL,
    )

    def __init__(self, member_id: bytes, parsed_url: Any, options: dict[str, Any]) -> None:
        super().__init__(member_id, parsed_url, options)
        self._member = text(member_id, "member")
        self._member_bytes = self._member.encode("utf-8")
        addresses = [a.strip() for a in (parsed_url.netloc or "").split(",") if a.strip()]
        timeout = option(options, "timeout")
        self._ttl_ms = None if timeout is None else int(float(timeout) * 1000)
        token = option(options, "token")
        token_file = option(options, "token_file")
        if token is None and token_file is not None:
            with open(token_file, encoding="utf-8") as file:
                token = file.read().strip()
        self._client = Client(
            addresses,
            # A call gets at least as long as a member lives, within sane bounds.
            timeout=max(5.0, min(30.0, (self._ttl_ms or 30_000) / 1000)),
            token=token,
            tls=option(options, "tls") in ("true", "1"),
            ca_file=option(options, "ca_file"),
        )
        self._session: str | None = None
        # The change feed: the store and revision read up to.
        self._store: str | None = None
        self._after = 0
        # Revision at which each group's watching started: earlier changes are not reported.
        self._watched_since: dict[bytes, int] = {}
        self._feed_lock = threading.Lock()
        # One gate per lock name, shared by this coordinator's lock objects.
        self._gates: weakref.WeakValueDictionary[str, _Gate] = weakref.WeakValueDictionary()
        self._gates_lock = threading.Lock()

    # ----- session -----

    def _start(self) -> None:
        body: dict[str, Any] = {"member_id": self._member}
        if self._ttl_ms is not None:
            body["ttl_ms"] = self._ttl_ms
        session = self._client.call("POST", ["sessions"], body)
        self._session = session["session_id"]
        status = self._client.call("GET", ["status"])
        self._store, self._after = status["store_id"], status["revision"]

    def _stop(self) -> None:
        if self._session is not None:
            try:
                self._client.call("DELETE", ["sessions", self._session])
            except tooz.ToozError:
                # Closed or expired already: nothing of it is left to remove.
                pass
            self._session = None
        self._hooks_elected_leader.clear()

    def heartbeat(self) -> float:
        if self._session is None:
            return 1.0
        try:
            answer = self._client.call("POST", ["sessions", self._session, "heartbeat"])
        except RosterError as error:
            if error.code != "session-expired":
                raise
            # The session expired and the daemon opened it again: what it held is gone, as
            # `get_members` shows; the heart goes on.
            return 1.0
        return answer["expires_in_ms"] / 1000 / 2

    def _session_id(self) -> str:
        if self._session is None:
            raise tooz.ToozError("the coordinator is not started")
        return self._session

    # ----- groups -----

    def create_group(self, group_id: bytes) -> Done[None]:
        def call() -> None:
            self._client.call("PUT", ["groups", text(group_id, "group")])

        return Done(call)

    def get_groups(self) -> Done[list[bytes]]:
        return Done(
            lambda: [
                g["group_id"].encode("utf-8")
                for g in self._client.call("GET", ["groups"])["groups"]
            ]
        )

    def delete_group(self, group_id: bytes) -> Done[None]:
        def call() -> None:
            self._client.call("DELETE", ["groups", text(group_id, "group")])

        return Done(call)

    def join_group(self, group_id: bytes, capabilities: Any = None) -> Done[None]:
        def call() -> None:
            self._client.call(
                "PUT",
                ["sessions", self._session_id(), "groups", text(group_id, "group")],
                {"capabilities": encode_capabilities(capabilities)},
            )
            self._joined_groups.add(group_id)

        return Done(call)

    def leave_group(self, group_id: bytes) -> Done[None]:
        def call() -> None:
            try:
                self._client.call(
                    "DELETE",
                    ["sessions", self._session_id(), "groups", text(group_id, "group")],
                )
            finally:
                self._joined_groups.discard(group_id)

        return Done(call)

    def _members(self, group_id: bytes) -> list[dict[str, Any]]:
        answer = self._client.call("GET", ["groups", text(group_id, "group"), "members"])
        return answer["members"]

    def get_members(self, group_id: bytes) -> Done[set[bytes]]:
        return Done(
            lambda: {m["member_id"].encode("utf-8") for m in self._members(group_id)}
        )

    def get_members_with_capabilities(self, group_id: bytes) -> Done[dict[bytes, Any]]:
        return Done(
            lambda: {
                m["member_id"].encode("utf-8"): decode_capabilities(m["capabilities"])
                for m in self._members(group_id)
            }
        )

    def _member_info(self, group_id: bytes, member_id: bytes) -> dict[str, Any]:
        return self._client.call(
            "GET",
            ["groups", text(group_id, "group"), "members", text(member_id, "member")],
        )

    def get_member_capabilities(self, group_id: bytes, member_id: bytes) -> Done[Any]:
        return Done(
            lambda: decode_capabilities(self._member_info(group_id, member_id)["capabilities"])
        )

    def get_member_info(self, group_id: bytes, member_id: bytes) -> Done[dict[str, Any]]:
        def call() -> dict[str, Any]:
            member = self._member_info(group_id, member_id)
            return {
                "capabilities": decode_capabilities(member["capabilities"]),
                "created_at": member["joined_at_ms"] / 1000,
                "updated_at": member["updated_at_ms"] / 1000,
                "expires_in": member["expires_in_ms"] / 1000,
                "revision": member["revision"],
            }

        return Done(call)

    def update_capabilities(self, group_id: bytes, capabilities: Any) -> Done[None]:
        def call() -> None:
            self._client.call(
                "PUT",
                [
                    "sessions",
                    self._session_id(),
                    "groups",
                    text(group_id, "group"),
                    "capabilities",
                ],
                {"capabilities": encode_capabilities(capabilities)},
            )

        return Done(call)

    # ----- elections -----

    def get_leader(self, group_id: bytes) -> Done[bytes | None]:
        def call() -> bytes | None:
            leader = self._client.call("GET", ["groups", text(group_id, "group"), "leader"])[
                "leader"
            ]
            return None if leader is None else leader["member_id"].encode("utf-8")

        return Done(call)

    def watch_elected_as_leader(self, group_id: bytes, callback: Any) -> None:
        self._watch_from_now(group_id)
        if not self._hooks_elected_leader.get(group_id):
            self._client.call(
                "PUT",
                ["sessions", self._session_id(), "elections", text(group_id, "group")],
            )
        super().watch_elected_as_leader(group_id, callback)

    def unwatch_elected_as_leader(self, group_id: bytes, callback: Any) -> None:
        super().unwatch_elected_as_leader(group_id, callback)
        if group_id not in self._hooks_elected_leader and self._session is not None:
            try:
                self._client.call(
                    "DELETE",
                    ["sessions", self._session, "elections", text(group_id, "group")],
                )
            except tooz.ToozError:
                # The candidacy went with an expired session or a deleted group.
                pass

    def stand_down_group_leader(self, group_id: bytes) -> bool:
        answer = self._client.call(
            "POST",
            [
                "sessions",
                self._session_id(),
                "elections",
                text(group_id, "group"),
                "stand-down",
            ],
        )
        return bool(answer["was_leader"])

    # ----- watchers -----

    def _watch_from_now(self, group_id: bytes) -> None:
        """Check that the group exists, and start reporting its changes from now on."""
        self._client.call("GET", ["groups", text(group_id, "group"), "members"])
        if group_id not in self._watched_since:
            head = self._client.call("GET", ["status"])["revision"]
            self._watched_since[group_id] = head

    def watch_join_group(self, group_id: bytes, callback: Any) -> None:
        self._watch_from_now(group_id)
        super().watch_join_group(group_id, callback)

    def watch_leave_group(self, group_id: bytes, callback: Any) -> None:
        self._watch_from_now(group_id)
        super().watch_leave_group(group_id, callback)

    def _forget_unwatched(self, group_id: bytes) -> None:
        watched = (
            group_id in self._hooks_join_group
            or group_id in self._hooks_leave_group
            or group_id in self._hooks_elected_leader
        )
        if not watched:
            self._watched_since.pop(group_id, None)

    def unwatch_join_group(self, group_id: bytes, callback: Any) -> None:
        super().unwatch_join_group(group_id, callback)
        self._forget_unwatched(group_id)

    def unwatch_leave_group(self, group_id: bytes, callback: Any) -> None:
        super().unwatch_leave_group(group_id, callback)
        self._forget_unwatched(group_id)

    def run_watchers(self, timeout: float | None = None) -> list[Any]:
        """Report every change made since the last call to the callbacks watching it, in
        revision order; the list of the callbacks' return values."""
        with self._feed_lock:
            events = self._read_feed()
        results: list[Any] = []
        for event in events:
            if "group_id" not in event:
                # A lock's change: tooz has no watcher for it.
                continue
            group_id = event["group_id"].encode("utf-8")
            since = self._watched_since.get(group_id)
            if since is None or event["revision"] <= since:
                continue
            member_id = event.get("member_id", "").encode("utf-8")
            kind = event["kind"]
            if kind == "member-left" and member_id == self._member_bytes:
                self._joined_groups.discard(group_id)
            if kind == "member-joined":
                hooks = self._hooks_join_group.get(group_id)
                reported = coordination.MemberJoinedGroup(group_id, member_id)
            elif kind == "member-left":
                hooks = self._hooks_leave_group.get(group_id)
                reported = coordination.MemberLeftGroup(group_id, member_id)
            elif kind == "leader-elected" and member_id == self._member_bytes:
                hooks = self._hooks_elected_leader.get(group_id)
                reported = coordination.LeaderElected(group_id, member_id)
            else:
                continue
            if hooks:
                results.extend(hooks.run(reported))
        return results

    def _read_feed(self) -> list[dict[str, Any]]:
        """The changes after the last one read; a store that lost them starts over at its
        oldest revision (its watchers then miss what was lost, as tooz's drivers do)."""
        events: list[dict[str, Any]] = []
        while True:
            query = {"after": str(self._after), "max": str(BATCH), "wait_ms": "0"}
            if self._store is not None:
                query["store"] = self._store
            answer = self._client.call("GET", ["changes"], query=query)
            self._store = answer["store"]
            resync = answer.get("resync")
            if resync is not None:
                self._after = max(resync["oldest"] - 1, 0)
                self._watched_since = {g: 0 for g in self._watched_since}
                continue
            batch = answer["events"]
            events.extend(batch)
            if batch:
                self._after = batch[-1]["revision"]
            if len(batch) < BATCH:
                return events

    # ----- locks -----

    def get_lock(self, name: bytes) -> "RosterLock":
        return RosterLock(self, name)

    def _gate(self, name: str) -> "_Gate":
        """This coordinator's gate for the lock ``name``, shared by its lock objects."""
        with self._gates_lock:
            gate = self._gates.get(name)
            if gate is None:
                gate = _Gate()
                self._gates[name] = gate
            return gate


class _WaitEnded(Exception):
    """The session no longer waits for the lock (its wait ended with an expiry)."""


class _Gate:
    """Where the threads of one coordinator take turns at one lock: the daemon's store
    knows the coordinator's session, which holds a lock once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


class RosterLock(locking.Lock):
    """A lock of the Roster daemon's store, held by the coordinator's session: released when
    the coordinator stops or its session expires (no lock outlives its holder), waiters
    served in arrival order across every client of the store.

    Several lock objects of one coordinator, and the threads using them, take turns as
    objects of different coordinators do. A shared acquisition of an object that already
    holds the lock shared counts, and is released as many times.
    """

    def __init__(self, driver: RosterDriver, name: bytes) -> None:
        super().__init__(name)
        self._driver = driver
        self._lock_name = text(name, "lock")
        self._gate = driver._gate(self._lock_name)
        # How this object holds the lock (None: it does not), and its shared count.
        self._mode: str | None = None
        self._count = 0
        self._state = threading.Lock()
        #: The fencing token of this object's hold.
        self.token: int | None = None

    def _segments(self, *rest: str) -> list[str]:
        return ["sessions", self._driver._session_id(), "locks", self._lock_name, *rest]

    def acquire(
        self, blocking: bool | float = True, shared: bool = False, timeout: float | None = None
    ) -> bool:
        blocking, timeout = utils.convert_blocking(blocking, timeout)
        mode = "shared" if shared else "exclusive"
        with self._state:
            if shared and self._mode == "shared":
                self._count += 1
                return True
        deadline = None if timeout is None else time.monotonic() + timeout
        if not blocking:
            turn = self._gate.lock.acquire(False)
        elif deadline is None:
            turn = self._gate.lock.acquire()
        else:
            turn = self._gate.lock.acquire(timeout=max(0.0, timeout))
        if not turn:
            return False
        try:
            token = self._acquire_in_store(mode, blocking, deadline)
        except BaseException:
            self._gate.lock.release()
            raise
        if token is None:
            self._gate.lock.release()
            return False
        with self._state:
            self._mode, self._count, self.token = mode, 1, token
        return True

    def _patience(self, deadline: float | None) -> float:
        if deadline is None:
            return MAX_LOCK_WAIT
        return min(MAX_LOCK_WAIT, max(0.0, deadline - time.monotonic()))

    def _acquire_in_store(self, mode: str, blocking: bool, deadline: float | None) -> int | None:
        """Acquire in the daemon's store, waiting in the lock's queue until ``deadline``:
        the fencing token, or ``None`` when it was not acquired."""
        client = self._driver._client
        while True:
            wait = self._patience(deadline) if blocking else 0.0
            answer = client.call(
                "POST",
                self._segments(),
                {"mode": mode, "wait": blocking, "wait_ms": int(wait * 1000)},
                read_timeout=wait + client.timeout,
            )
            try:
                answer = self._wait_while_queued(answer, deadline)
            except _WaitEnded:
                # The wait ended with the session (an expiry): ask again.
                continue
            return int(answer["token"]) if answer["state"] == "acquired" else None

    def _wait_while_queued(self, answer: dict[str, Any], deadline: float | None) -> dict[str, Any]:
        """Wait while ``answer`` says the session is queued; the answer that ends it."""
        client = self._driver._client
        while answer["state"] == "queued":
            if deadline is not None and time.monotonic() >= deadline:
                # Patience ran out: leave the queue, unless the grant came meanwhile.
                kept = client.call("POST", self._segments("abandon"))["token"]
                return {"state": "busy"} if kept is None else {"state": "acquired", "token": kept}
            wait = self._patience(deadline)
            try:
                answer = client.call(
                    "POST",
                    self._segments("wait"),
                    {"wait_ms": int(wait * 1000)},
                    read_timeout=wait + client.timeout,
                )
            except RosterError as error:
                if error.code == "lock-not-held":
                    raise _WaitEnded from error
                raise
        return answer

    def release(self) -> bool:
        with self._state:
            if self._mode is None:
                return False
            if self._mode == "shared" and self._count > 1:
                self._count -= 1
                return True
            self._mode, self._count, self.token = None, 0, None
        try:
            if self._driver._session is None:
                # The coordinator stopped: its session, and the hold with it, are gone.
                return False
            self._driver._client.call("DELETE", self._segments())
            return True
        except RosterError as error:
            if error.code in ("lock-not-held", "session-not-found", "not-started"):
                # The hold ended with the session, or was broken.
                return False
            raise
        finally:
            self._gate.lock.release()

    def break_(self) -> bool:
        """End every hold on the lock, whoever holds it (its waiters are served next)."""
        self._driver._client.call("POST", self._segments("break"))
        return True

    def is_still_owner(self) -> bool:
        with self._state:
            if self._mode is None:
                return False
        standing = self._driver._client.call("GET", self._segments())
        return standing["state"] == "holding"
