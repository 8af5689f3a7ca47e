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

Ids: tooz's bytes ids are Roster's string ids, UTF-8; anything else is refused with a
``ValueError`` naming the id. Capabilities are stored as tooz's other drivers store them
(msgpack), so they round-trip any value tooz accepts.
"""

from __future__ import annotations

import base64
import collections
import threading
from typing import Any, Callable, TypeVar

import tooz
from tooz import coordination, utils

from roster_tooz.client import Client, RosterError

T = TypeVar("T")

#: Changes read per call of the change feed.
BATCH = 1000


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

    def get_lock(self, name: bytes) -> Any:
        raise tooz.NotImplemented("Roster's locks are not offered through tooz yet")
