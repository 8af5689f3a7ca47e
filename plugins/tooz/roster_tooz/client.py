"""The few calls of the Roster daemon's HTTP API the tooz driver makes.

Kept-alive connections to every daemon the URL names (``roster://H1:P1,H2:P2``): calls go
to the daemon in use and, when it cannot be reached, to the next one; a session is the
store's, so it goes on through whichever daemon answers (daemons on a store outside their
process). Every refusal of the daemon becomes the tooz exception for its error code.

HTTP is spoken by ``wire`` (this package's own, over the standard library's sockets): a
coordinator's calls are what a tooz benchmark counts, and ``http.client`` costs a call more
than its round trip to a daemon on the same host (see ``wire``).
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
import urllib.parse
from typing import Any

import tooz
from tooz import coordination

from roster_tooz import wire


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
        #: The ``Host`` header of every call to this daemon.
        self.host_header = f"Host: {address}\r\n"
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._idle: list[wire.Connection] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[wire.Connection, bool]:
        """A connection, and whether it was used before (it may have been closed since)."""
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.dropped():
                    return connection, True
                connection.close()
        connection = wire.Connection(self.host, self.port, self._tls, self._connect_timeout)
        return connection, False

    def give(self, connection: wire.Connection) -> None:
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


@functools.lru_cache(maxsize=4096)
def _quoted(segment: str) -> str:
    """A path segment, percent-encoded (a coordinator names the same few again and again)."""
    return urllib.parse.quote(segment, safe="")


# What a call on a kept-alive connection meets when the daemon had closed it before reading
# the call: nothing of the call was done, so it is made again on a new connection.
_STALE = (BrokenPipeError, ConnectionResetError, wire.Closed)


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
        # The headers every call carries after its request line and Host.
        headers = "Accept: application/json\r\n"
        if token and not all("!" <= c <= "~" for c in token):
            raise ValueError("a token is printable ASCII without spaces (as `roster token new` makes)")
        if token:
            headers += f"Authorization: Bearer {token}\r\n"
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
            except OSError as error:
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
        head = f"{method} {path} HTTP/1.1\r\n{daemon.host_header}{self._headers}"
        if data is None:
            request = (head + "Content-Length: 0\r\n\r\n").encode("ascii")
        else:
            request = (
                head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode("ascii") + data
        while True:
            connection, reused = daemon.take()
            try:
                status, payload, keep = connection.exchange(request, read)
            except _STALE:
                connection.close()
                if reused:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if keep:
                daemon.give(connection)
            else:
                connection.close()
            return status, payload

    def close(self) -> None:
        for daemon in self._daemons:
            daemon.close()
