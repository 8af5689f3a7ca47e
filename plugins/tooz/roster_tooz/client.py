"""The few calls of the Roster daemon's HTTP API the tooz driver makes.

One connection pool for every daemon the URL names (``roster://H1:P1,H2:P2``): calls go to
the daemon in use and, when it cannot be reached, to the next one; a session is the store's,
so it goes on through whichever daemon answers (daemons on a store outside their process).
Every refusal of the daemon becomes the tooz exception for its error code.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

import urllib3

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
        scheme = "https" if tls else "http"
        self._bases = [f"{scheme}://{address}" for address in addresses]
        self._current = 0
        self._lock = threading.Lock()
        self._timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        #: How long a call may take (a wait the daemon was asked for comes on top).
        self.timeout = timeout
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        pool: dict[str, Any] = {"retries": False, "maxsize": 8, "headers": headers}
        if tls:
            pool["cert_reqs"] = "CERT_REQUIRED"
            if ca_file:
                pool["ca_certs"] = ca_file
        self._http = urllib3.PoolManager(**pool)

    def call(
        self,
        method: str,
        segments: list[str],
        body: Any = None,
        query: dict[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """Make one call; its JSON answer (``None`` when it has none)."""
        path = "/v1/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        timeout = self._timeout
        if read_timeout is not None:
            timeout = urllib3.Timeout(connect=self._timeout.connect_timeout, read=read_timeout)
        with self._lock:
            first = self._current
        last_error: Exception | None = None
        for attempt in range(len(self._bases)):
            index = (first + attempt) % len(self._bases)
            try:
                response = self._http.request(
                    method, self._bases[index] + path, body=data, timeout=timeout
                )
            except urllib3.exceptions.HTTPError as error:
                last_error = error
                continue
            with self._lock:
                self._current = index
            if response.status >= 400:
                raise translate(response.status, response.data)
            if not response.data:
                return None
            return json.loads(response.data)
        raise coordination.ToozConnectionError(
            f"cannot reach the Roster daemon at {', '.join(self._bases)}: {last_error}"
        )

    def close(self) -> None:
        self._http.clear()
