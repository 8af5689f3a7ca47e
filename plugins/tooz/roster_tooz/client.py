"""The few calls of the Roster daemon's HTTP API the tooz driver makes.

Kept-alive connections to every daemon the URL names (``roster://H1:P1,H2:P2``): calls go
to the daemon in use and, when it cannot be reached, to the next one; a session is the
store's, so it goes on through whichever daemon answers (daemons on a store outside their
process). Every refusal of the daemon becomes the tooz exception for its error code.

The HTTP client is the standard library's ``http.client``: a call to a daemon on this host
costs about half of what it does through urllib3 (which wraps the same module), and a
coordinator's calls are what a tooz benchmark counts.
"""

from __future__ import annotations

import functools
import http.client
import json
import select
import socket
import ssl
import threading
import urllib.parse
from typing import Any

import tooz
from tooz import coordination


class RosterError(tooz.ToozError):
    """The daemon refused a call for a reason tooz has no exception of its own for."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code


def group_of(detail: Any) -> bytes:
    if isinstance(detail, dict):
        detail = detail.get("group_id", "")
    return str(detail).encode("utf-8")


def member_of(detail: Any) -> bytes:
    if isinstance(detail, dict):
        return str(detail.get("member_id", "")).encode("utf-8")
    return b""


def translate(status: int, body: bytes) -> tooz.ToozError:
    """The tooz exception for a daemon's error answer."""
    try:
        error = json.loads(body)["error"]
        code, message, detail = error["code"], error["message"], error.get("detail")
    except (ValueError, KeyError, TypeError):
        return RosterError(status, "protocol", body[:200].decode("utf-8", "replace"))
    if code == "group-not-created":
        return coordination.GroupNotCreated(group_of(detail))
    if code == "group-already-exist":
        return coordination.GroupAlreadyExist(group_of(detail))
    if code == "group-not-empty":
        return coordination.GroupNotEmpty(group_of(detail))
    if code == "member-already-exist":
        return coordination.MemberAlreadyExist(group_of(detail), member_of(detail))
    if code in ("member-not-joined", "member-expired"):
        return coordination.MemberNotJoined(group_of(detail), member_of(detail))
    if code == "operation-timed-out":
        return coordination.OperationTimedOut(message)
    if code == "not-implemented":
        return tooz.NotImplemented(message)
    if code in ("connection", "shutting-down", "store-unavailable"):
        return coordination.ToozConnectionError(message)
    return RosterError(status, code, message)


class _Daemon:
    """One daemon's address and its idle kept-alive connections (any thread may take one)."""

    #: Idle connections kept per daemon: one per thread a coordinator runs calls in at once
    #: (the caller's, the heart's, lock waits), more are opened and closed as needed.
    KEPT = 8

    def __init__(self, address: str, tls: ssl.SSLContext | None, connect_timeout: float) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a daemon's address is HOST:PORT, not {address!r}")
        self.host, self.port = host.strip("[]"), int(port)
        self.base = f"{'https' if tls else 'http'}://{address}"
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it was used before (it may have been closed since)."""
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not _dropped(connection):
                    return connection, True
                connection.close()
        if self._tls is not None:
            fresh: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            fresh = http.client.HTTPConnection(
                self.host, self.port, timeout=self._connect_timeout
            )
        return fresh, False

    def give(self, connection: http.client.HTTPConnection) -> None:
        """Keep ``connection`` for a later call (its answer was read whole)."""
        with self._lock:
            if len(self._idle) < self.KEPT:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the daemon: an idle connection has nothing
    to read, so anything readable is its end (or a stray byte: unusable either way)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@functools.lru_cache(maxsize=4096)
def _quoted(segment: str) -> str:
    """A path segment, percent-encoded (a coordinator names the same few again and again)."""
    return urllib.parse.quote(segment, safe="")


# What a call on a kept-alive connection meets when the daemon had closed it before reading
# the call: nothing of the call was done, so it is made again on a new connection.
_STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


class Client:
    """Calls to the daemons at ``addresses`` (``host:port``), over HTTP or HTTPS."""

    def __init__(
        self,
        addresses: list[str],
        *,
        timeout: float,
        token: str | None = None,
        tls: bool = False,
        ca_file: str | None = None,
    ) -> None:
        if not addresses:
            raise ValueError("a roster:// URL names at least one daemon: roster://HOST:PORT")
        context = ssl.create_default_context(cafile=ca_file) if tls else None
        #: How long a call may take (a wait the daemon was asked for comes on top).
        self.timeout = timeout
        self._daemons = [_Daemon(a, context, min(timeout, 5.0)) for a in addresses]
        self._current = 0
        self._lock = threading.Lock()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers

    def call(
        self,
        method: str,
        segments: list[str],
        body: Any = None,
        query: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """Make one call; its JSON answer (``None`` when it has none)."""
        path = "/v1/" + "/".join(map(_quoted, segments))
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        read = self.timeout if read_timeout is None else read_timeout
        first = self._current
        last_error: Exception | None = None
        for attempt in range(len(self._daemons)):
            index = (first + attempt) % len(self._daemons)
            daemon = self._daemons[index]
            try:
                status, payload = self._exchange(daemon, method, path, data, read)
            except (OSError, http.client.HTTPException) as error:
                last_error = error
                continue
            if index != first:
                with self._lock:
                    self._current = index
            if status >= 400:
                raise translate(status, payload)
            if not payload:
                return None
            return json.loads(payload)
        raise coordination.ToozConnectionError(
            "cannot reach the Roster daemon at "
            f"{', '.join(d.base for d in self._daemons)}: {last_error}"
        )

    def _exchange(
        self, daemon: _Daemon, method: str, path: str, data: bytes | None, read: float
    ) -> tuple[int, bytes]:
        """One call to one daemon: the answer's status and body."""
        while True:
            connection, reused = daemon.take()
            try:
                if connection.sock is None:
                    connection.connect()
                    # http.client sends a call's head and body in two writes.
                    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connection.sock.settimeout(read)
                connection.request(method, path, body=data, headers=self._headers)
                response = connection.getresponse()
                payload = response.read()
            except _STALE:
                connection.close()
                if reused:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                daemon.give(connection)
            return response.status, payload

    def close(self) -> None:
        for daemon in self._daemons:
            daemon.close()
