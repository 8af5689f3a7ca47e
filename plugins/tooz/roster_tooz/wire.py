"""HTTP/1.1 as a client of the Roster daemon needs it: one kept-alive connection, a call
written in one send, its answer read through one buffered reader.

A tooz coordinator's calls are small and made one after another, so what a call costs in
Python beside its round trip is what a benchmark of joins or locks counts. The standard
library's ``http.client`` builds a call in several steps and parses every answer's headers
as an e-mail message (``email.parser``); this module reads the status line and the three
headers that decide how the body ends (``Content-Length``, ``Transfer-Encoding``,
``Connection``) and skips the rest. It speaks what any HTTP/1.1 server may answer (a
length, chunks, a body up to the end of the connection, informational answers before the
final one), over TCP or TLS, and nothing a daemon's client does not use (no redirects, no
proxies, no cookies).
"""

from __future__ import annotations

import select
import socket
import ssl

#: Longest status or header line read; an answer with a longer one is refused.
MAX_LINE = 65536
#: Most header lines read in one answer.
MAX_HEADERS = 200


class Closed(ConnectionError):
    """The daemon closed the connection before the answer began (on a kept-alive
    connection: it had closed it while idle, before reading the call)."""


class BadAnswer(ConnectionError):
    """What the daemon sent is not an HTTP/1.1 answer, or ended before its body did."""


class Connection:
    """One connection to a daemon, for one call at a time."""

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext | None, connect_timeout: float
    ) -> None:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
        try:
            # A call is one write, but its answer must not wait for an acknowledgement.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._reader = sock.makefile("rb")
        # Asked before each reuse whether the idle connection was closed: made once.
        self._idle_poller = select.poll()
        self._idle_poller.register(sock, select.POLLIN)
        self._timeout: float | None = connect_timeout

    def dropped(self) -> bool:
        """Whether the idle connection was closed by the daemon: an idle connection has
        nothing to read, so anything readable is its end (or a stray byte: unusable either
        way)."""
        return bool(self._idle_poller.poll(0))

    def exchange(self, request: bytes, timeout: float) -> tuple[int, bytes, bool]:
        """Send ``request`` (a whole call: head and body) and read its answer: the status,
        the body, and whether the connection may carry another call."""
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout
        self._sock.sendall(request)
        status, headers_keep, length, chunked = self._head()
        while 100 <= status < 200:
            # Informational answers come before the call's own.
            status, headers_keep, length, chunked = self._head()
        if status in (204, 304):
            return status, b"", headers_keep
        if chunked:
            return status, self._chunks(), headers_keep
        if length is not None:
            body = self._reader.read(length)
            if len(body) != length:
                raise BadAnswer(f"the answer ended after {len(body)} of {length} bytes")
            return status, body, headers_keep
        # Neither a length nor chunks: the body runs to the end of the connection.
        return status, self._reader.read(), False

    def _line(self) -> bytes:
        line = self._reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadAnswer(f"an answer's line is longer than {MAX_LINE} bytes")
        return line

    def _head(self) -> tuple[int, bool, int | None, bool]:
        """The status line and headers: the status, whether the connection stays open, the
        body's length if given, and whether the body comes in chunks."""
        line = self._line()
        if not line:
            raise Closed("the daemon closed the connection without answering")
        version, _, rest = line.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not rest[:3].isdigit():
            raise BadAnswer(f"not an HTTP/1.x status line: {line[:80]!r}")
        status = int(rest[:3])
        keep = version != b"HTTP/1.0"
        length: int | None = None
        chunked = False
        for _ in range(MAX_HEADERS):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return status, keep, length, chunked
            if not line:
                raise BadAnswer("the answer ended in its headers")
            name, colon, value = line.partition(b":")
            if not colon:
                raise BadAnswer(f"not a header line: {line[:80]!r}")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise BadAnswer(f"not a length: {value.strip()[:40]!r}") from None
                if length < 0:
                    raise BadAnswer(f"a negative length: {length}")
            elif name == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                if b"close" in tokens:
                    keep = False
                elif b"keep-alive" in tokens:
                    keep = True
        raise BadAnswer(f"an answer with more than {MAX_HEADERS} header lines")

    def _chunks(self) -> bytes:
        """A body sent in chunks (and the trailer lines after it, skipped)."""
        parts: list[bytes] = []
        while True:
            size_line = self._line()
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise BadAnswer(f"not a chunk size: {size_line[:40]!r}") from None
            if size < 0:
                raise BadAnswer(f"a negative chunk size: {size}")
            if size == 0:
                break
            chunk = self._reader.read(size)
            if len(chunk) != size or self._line() not in (b"\r\n", b"\n"):
                raise BadAnswer("the answer ended inside a chunk")
            parts.append(chunk)
        for _ in range(MAX_HEADERS):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return b"".join(parts)
            if not line:
                raise BadAnswer("the answer ended in its trailer")
        raise BadAnswer(f"a trailer with more than {MAX_HEADERS} lines")

    def close(self) -> None:
        self._reader.close()
        self._sock.close()
